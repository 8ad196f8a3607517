"""What a paid payment run paid: one line per claim, split by commissioner, for the provider's
remittance advice.

A contract delivered by a partnership is paid as one contract: the journal's payments are
owed to the partnership and paid through the lead provider. The remittance says beside them
what each provider of the partnership is owed of the run (`shares`, from
`outcomes.payments.run_shares`: by the agreed split or by who claimed). Given a partner's
`scope`, it lists that partner's claims alone; every total stays the partnership's.
"""


from __future__ import annotations

import datetime as dt
from collections import defaultdict
from uuid import UUID

import msgspec
import pandas as pd

from contracts.service import current_terms, terms_at
from contracts.tables import Contract, Organisation
from outcomes.payments import run_shares
from outcomes.tables import PaymentRunLine
from reports.assembly import Party, contract_parties
from reports.attachments import Attachment, safe_csv


class RemittanceLine(msgspec.Struct, kw_only=True):
    claim_id: UUID
    client_ref: str
    pseudonym: str
    metric_code: str
    achieved_on: dt.date
    amount: int
    parts: dict[str, int]  # commissioner name → its part


class Remittance(msgspec.Struct, kw_only=True):
    run_id: UUID
    contract_id: UUID
    reference: str
    title: str
    currency: str
    provider: Party
    period_from: dt.date
    period_to: dt.date
    paid_at: dt.datetime
    paid_by: str
    approved_by: str | None
    total: int
    by_commissioner: list[tuple[Party, int, int]]  # who, claims, amount
    by_metric: list[tuple[str, int, int]]  # metric, claims, amount
    lines: list[RemittanceLine]
    generated_at: dt.datetime
    attachments: list[Attachment] = []
    # Each provider of the partnership (role "lead" or "partner"; a partner's share_bp its
    # split when paid by split) and what it is owed of the run; the lead alone otherwise.
    shares: list[tuple[Party, int]] = []
    partner_payment: str = "by_claimant"
    claims: int = 0  # how many claims the run paid, whoever's they are
    scope: Party | None = None  # the partner whose claims alone `lines` lists


async def remittance(run_id: UUID, *, scope: UUID | None = None) -> Remittance:
    """What a paid payment run paid, for which claims and by which commissioner. The parts
    are read from the run's payment entries in the journal, not recomputed from shares.

    `scope` is `contracts.service.provider_scope` of the reader: a partner's remittance
    lists only the claims of the participants it enrolled (and its CSV attachment too),
    while the totals, the commissioners' parts and the providers' shares are the run's."""
    from outcomes.tables import PaymentRun

    run = await PaymentRun.select().where(PaymentRun.id == run_id).first()
    if run is None:
        raise LookupError(f"no payment run {run_id}")
    contract = await Contract.select().where(Contract.id == run["contract"]).first()
    terms = await current_terms(contract["id"], contract["version"])
    parties = {p.name: p for p in await contract_parties(contract, terms)}
    provider = next(p for p in parties.values() if p.role == "provider")
    claims = await PaymentRunLine.select(
        PaymentRunLine.claim, PaymentRunLine.amount,
        PaymentRunLine.claim.client_ref.as_alias("client_ref"),
        PaymentRunLine.claim.participant.pseudonym.as_alias("pseudonym"),
        PaymentRunLine.claim.metric_code.as_alias("metric_code"),
        PaymentRunLine.claim.achieved_on.as_alias("achieved_on"),
        PaymentRunLine.claim.participant.organisation.as_alias("owner"),
    ).where(PaymentRunLine.run == run_id).order_by(PaymentRunLine.claim.client_ref)
    from ledger.balances import claim_parts

    orgs = {r["id"]: r for r in await Organisation.select(
        Organisation.id, Organisation.name, Organisation.identifier)}
    names = {org: r["name"] for org, r in orgs.items()}
    paid = await claim_parts([r["claim"] for r in claims], "pay", "paid")
    parts = {claim: {names.get(org, str(org)): -amount for org, amount in legs}
             for claim, (_, legs) in paid.items()}
    lines = [RemittanceLine(
        claim_id=r["claim"], client_ref=r["client_ref"], pseudonym=r["pseudonym"],
        metric_code=r["metric_code"], achieved_on=r["achieved_on"], amount=r["amount"],
        parts=parts.get(r["claim"], {})) for r in claims]
    per_org: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_metric: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        for name, part in line.parts.items():
            per_org[name][0] += 1
            per_org[name][1] += part
        per_metric[line.metric_code][0] += 1
        per_metric[line.metric_code][1] += line.amount
    # The terms the shares follow, as outcomes.payments.run_shares reads them.
    paid_terms = await terms_at(contract["id"], run["paid_at"]) if run["paid_at"] else terms
    splits = {p.organisation_id: p.split_bp for p in paid_terms.partners}

    def party(org: UUID, role: str) -> Party:
        o = orgs.get(org, {"name": str(org), "identifier": ""})
        bp = splits.get(org) if paid_terms.partner_payment == "by_split" else None
        return Party(role=role, name=o["name"], identifier=o["identifier"], share_bp=bp)

    shares = [(party(s.organisation_id, s.role), s.amount.amount)
              for s in await run_shares(run, contract["provider"])]
    own = [line for line, r in zip(lines, claims, strict=True)
           if scope is None or (r["owner"] or contract["provider"]) == scope]
    out = Remittance(
        run_id=run_id, contract_id=contract["id"], reference=contract["reference"],
        title=contract["title"], currency=run["currency"], provider=provider,
        period_from=run["period_from"], period_to=run["period_to"], paid_at=run["paid_at"],
        paid_by=run["paid_by"], approved_by=run["approved_by"], total=run["total"],
        by_commissioner=[(parties.get(n) or Party(role="commissioner", name=n, identifier=""),
                          c, a) for n, (c, a) in sorted(per_org.items())],
        by_metric=[(m, c, a) for m, (c, a) in sorted(per_metric.items())], lines=own,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0), shares=shares,
        partner_payment=paid_terms.partner_payment, claims=len(lines),
        scope=None if scope is None else party(scope, "partner"))
    commissioners = sorted(per_org)
    frame = pd.DataFrame.from_records(
        [(str(x.claim_id), x.client_ref, x.pseudonym, x.metric_code, x.achieved_on.isoformat()
          if isinstance(x.achieved_on, dt.date) else x.achieved_on, x.amount, out.currency,
          *(x.parts.get(n, 0) for n in commissioners)) for x in own],
        columns=["claim_id", "client_ref", "pseudonym", "metric_code", "achieved_on",
                 "amount", "currency", *(f"paid_by:{n}" for n in commissioners)])
    out.attachments = [Attachment(
        name="remittance.csv", media_type="text/csv", rows=len(frame),
        data=safe_csv(frame),
        description=("Every claim the run paid" if scope is None else
                     "Every claim of your participants the run paid")
        + ", with each commissioner's part, in minor units")]
    return out
