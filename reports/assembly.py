"""What an auditor's statement says, read from the database and shaped with pandas.

A statement covers one contract and a period of UTC dates, both ends included. What
"in the period" means, row by row:

- a claim is *received* when its batch arrived in the period: it was either accepted (a
  claim was created) or rejected (the batch's validation report says why);
- a claim is *sampled*, *verified*, *disputed*, *approved*, *paid* or *reversed* in the
  period when its status history records that step in the period;
- the ledger's figures are the journal's postings whose effective date lies in the period,
  and its balances are those at the day before the period (opening) and at its last day
  (closing), exactly as GET /api/v1/contracts/{id}/balance?on= gives them.

The full claim list and the period's journal entries are not printed: they travel as
attachments (CSV for spreadsheets, JSON for programs), so that the body stays a few pages
however large the contract is. The attachments carry every column the body's totals are
computed from, so an auditor can recompute each figure.

A partner of a partnership gets its part (`scope`, from `contracts.service.provider_scope`):
the claims of the participants it enrolled, the rejected rows of the batches it sent, the
verification draws and the monthly chart counted over those claims. The journal is the
contract's and stays whole: its reconciliation, balances, proof and attached entries hold
money, accounts and claim ids, never a pseudonym. The claims-to-payments check then sets the
partner's claims beside the journal entries booked for those claims (each keyed
`accrue:`, `pay:` or `clawback:` and the claim's id), so that it agrees for what is shown,
and names the whole contract's journal figure beside it (`contract_journal`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from uuid import UUID

import msgspec
import numpy as np
import pandas as pd

from contracts.library import metrics_by_code
from contracts.schemas import ContractTerms
from contracts.service import current_terms
from contracts.tables import Contract, Organisation
from ledger.balances import ContractBalance, account_balances, contract_balance
from ledger.tables import Checkpoint, JournalEntry, Posting
from outcomes.queries import claims_of
from outcomes.tables import Claim, ClaimEvent, IntakeBatch, PaymentRunLine, SampleDraw
from reports.attachments import STEPS, Attachment, claim_files, journal_files, rejection_file

# Accounts in the order the reconciliation lists them, and the sign that shows each as a
# positive figure in its ordinary state (debits are positive in the journal).
ACCOUNTS = (("committed", 1, "Remaining commitment"),
            ("accrued", 1, "Accrued, net"),
            ("payable", -1, "Payable to provider"),
            ("paid", -1, "Paid"),
            ("receivable", 1, "Receivable"))
KINDS = ("commitment", "accrual", "payment", "clawback")


class Party(msgspec.Struct, kw_only=True):
    role: str
    name: str
    identifier: str
    share_bp: int | None = None


class MetricRow(msgspec.Struct, kw_only=True):
    metric_code: str
    received: int
    rejected: int
    accepted: int
    accepted_amount: int
    sampled: int
    verified: int
    disputed: int
    approved: int
    approved_amount: int
    paid: int
    paid_amount: int
    reversed: int
    reversed_amount: int


class ReconciliationRow(msgspec.Struct, kw_only=True):
    account: str
    label: str
    opening: int
    movements: dict[str, int]
    closing: int


class SampleRow(msgspec.Struct, kw_only=True):
    id: UUID
    drawn_at: dt.datetime
    drawn_by: str
    seed: str
    rate_bp: int
    population: int
    selected: int
    verified: int
    disputed: int
    pending: int


class JournalProof(msgspec.Struct, kw_only=True):
    head_seq: int
    head_hash: str
    period_entries: int
    last_seq: int | None
    last_hash: str | None
    checkpoint_seq: int | None = None
    checkpoint_hash: str | None = None
    checkpoint_at: dt.datetime | None = None
    checkpoint_public_key: str | None = None
    checkpoint_signature: str | None = None
    checkpoint_after_period: bool = False


class Statement(msgspec.Struct, kw_only=True):
    contract_id: UUID
    reference: str
    title: str
    intervention: str
    status: str
    currency: str
    period_from: dt.date
    period_to: dt.date
    generated_at: dt.datetime
    version: int
    terms: ContractTerms
    parties: list[Party]
    metrics: dict[str, str]  # metric code → name
    rows: list[MetricRow]
    totals: MetricRow
    rejections: list[tuple[str, str, int]]  # metric, reason code, rows
    opening: ContractBalance
    closing: ContractBalance
    reconciliation: list[ReconciliationRow]
    # (what, from the claim register, from the journal): the claims-to-payments check.
    checks: list[tuple[str, int, int]]
    samples: list[SampleRow]
    monthly: list[tuple[str, int, int]]  # YYYY-MM, outcomes approved, amount paid
    proof: JournalProof
    attachments: list[Attachment] = []
    # The partner whose part this is (its claims, batches and draws counted over its
    # claims; the journal whole), and, for each of `checks`, the whole contract's journal.
    scope: Party | None = None
    contract_journal: list[int] = []


def _bounds(period_from: dt.date, period_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(period_from, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(period_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return start, end


def _utc(series: pd.Series) -> pd.Series:
    """Timestamps as pandas reads them from either engine (datetimes or ISO text), in UTC."""
    return pd.to_datetime(series, utc=True, format="ISO8601")


async def assemble(contract_id: UUID, period_from: dt.date, period_to: dt.date, *,
                   attachments: bool = True, scope: UUID | None = None) -> Statement:
    """The statement of `contract_id` for the period; given a partner's `scope`, that
    partner's part of it (see the module's docstring)."""
    contract = await Contract.select().where(Contract.id == contract_id).first()
    if contract is None:
        raise LookupError(f"no contract {contract_id}")
    start, end = _bounds(period_from, period_to)
    terms = await current_terms(contract_id, contract["version"])
    currency = contract["currency"]
    parties = await contract_parties(contract, terms)
    partner = None if scope is None else await _partner(scope)
    metrics = {code: m.name for code, m in (await metrics_by_code(
        {line.metric_code for line in terms.rate_card})).items()}

    claims = await _claims(contract, end, scope)
    in_period = _in_period(claims, start, end)
    shown = claims[in_period].copy()
    rejected = await _rejections(contract, start, end, scope)
    rows, totals = _metric_rows(shown, rejected, start, end, list(metrics))
    rejections = sorted(((m, code), n) for (m, code), n in Counter(
        (r[0], r[1]) for r in rejected).items())

    opening = await contract_balance(contract_id, currency, period_from - dt.timedelta(days=1))
    closing = await contract_balance(contract_id, currency, period_to)
    reconciliation = await _reconciliation(contract_id, currency, period_from, period_to)
    moved = {r.account: r.movements for r in reconciliation}
    journal = [moved["accrued"]["accrual"], moved["paid"]["payment"],
               -moved["accrued"]["clawback"]]
    own = None if scope is None else await _claim_entries(
        contract_id, currency, claims["id"].tolist(), period_to)
    booked = journal if own is None else _claim_journal(own, period_from)
    checks = [("approved claims / accruals", totals.approved_amount, booked[0]),
              ("paid claims / payments", totals.paid_amount, booked[1]),
              ("reversed claims / clawbacks", totals.reversed_amount, booked[2])]
    statement = Statement(
        contract_id=contract_id, reference=contract["reference"], title=contract["title"],
        intervention=contract["intervention"], status=contract["status"], currency=currency,
        period_from=period_from, period_to=period_to,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        version=contract["version"], terms=terms, parties=parties, metrics=metrics,
        rows=rows, totals=totals,
        rejections=[(m, code, n) for (m, code), n in rejections],
        opening=opening, closing=closing, reconciliation=reconciliation,
        checks=checks,
        samples=await _samples(contract_id, claims, start, end, counted=scope is not None),
        monthly=await _monthly(contract_id, claims, period_to, own),
        proof=await _proof(contract_id, period_from, period_to, end),
        scope=partner, contract_journal=[] if scope is None else journal)
    if partner is not None:
        statement.parties = [*parties, partner]
    if attachments:
        statement.attachments = [
            *claim_files(shown, statement),
            *(await journal_files(contract_id, period_from, period_to, statement)),
            rejection_file(rejected, statement)]
    return statement


async def _partner(org: UUID) -> Party:
    o = await Organisation.select(Organisation.name, Organisation.identifier).where(
        Organisation.id == org).first() or {"name": str(org), "identifier": ""}
    return Party(role="partner", name=o["name"], identifier=o["identifier"])


async def contract_parties(contract: dict, terms: ContractTerms) -> list[Party]:
    ids = [contract["provider"], *(c.organisation_id for c in terms.commissioners),
           *terms.auditor_ids]
    orgs = {r["id"]: r for r in await Organisation.select().where(Organisation.id.is_in(ids))}

    def party(role: str, org: UUID, share: int | None = None) -> Party:
        o = orgs.get(org, {"name": str(org), "identifier": ""})
        return Party(role=role, name=o["name"], identifier=o["identifier"], share_bp=share)

    return [*(party("commissioner", c.organisation_id, c.share_bp)
              for c in terms.commissioners),
            party("provider", contract["provider"]),
            *(party("auditor", a) for a in terms.auditor_ids)]


async def _claims(contract: dict, end: dt.datetime, scope: UUID | None = None
                  ) -> pd.DataFrame:
    """Every claim submitted before the period's end (of the participants `scope`
    enrolled, given one), with the date of each step of its history up to that end (later
    steps are not yet known to this statement)."""
    contract_id = contract["id"]
    rows = await Claim.select(
        Claim.id, Claim.client_ref, Claim.participant.pseudonym.as_alias("pseudonym"),
        Claim.line_code, Claim.metric_code, Claim.achieved_on, Claim.value, Claim.evidence_ref,
        Claim.amount, Claim.currency, Claim.submitted_at, Claim.sample, Claim.batch,
    ).where(claims_of(contract, scope) & (Claim.submitted_at < end)).output(
        as_list=False)
    columns = ["id", "client_ref", "pseudonym", "line_code", "metric_code", "achieved_on",
               "value", "evidence_ref", "amount", "currency", "submitted_at", "sample", "batch"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["submitted_at"] = _utc(frame["submitted_at"])
    cases = ", ".join(
        f"MAX(CASE WHEN e.to_status = '{s}' THEN e.recorded_at END) AS {s}_at" for s in STEPS)
    steps = await ClaimEvent.raw(
        f"SELECT e.claim AS id, {cases} FROM claim_event e JOIN claim c ON c.id = e.claim "  # noqa: S608 - fixed status names
        "WHERE c.contract = {} AND e.recorded_at < {} GROUP BY e.claim", contract_id, end)
    history = pd.DataFrame.from_records(steps, columns=["id", *(f"{s}_at" for s in STEPS)])
    if len(history):
        history["id"] = history["id"].map(lambda v: v if isinstance(v, UUID) else UUID(v))
    frame = frame.merge(history, on="id", how="left")
    for s in STEPS:
        frame[f"{s}_at"] = _utc(frame[f"{s}_at"])
    runs = await PaymentRunLine.select(PaymentRunLine.claim, PaymentRunLine.run).where(
        (PaymentRunLine.run.contract == contract_id) & (PaymentRunLine.run.status == "paid")
        & (PaymentRunLine.run.paid_at < end))
    frame = frame.merge(pd.DataFrame({"id": [r["claim"] for r in runs],
                                      "payment_run": [r["run"] for r in runs]}, dtype=object),
                        on="id", how="left")
    # Status at the period's end: the latest step recorded by then.
    stamps = np.column_stack([
        frame[f"{s}_at"].to_numpy(dtype="datetime64[ns]").astype("int64") for s in STEPS]
    ) if len(frame) else np.zeros((0, len(STEPS)), dtype="int64")
    known = stamps != np.iinfo("int64").min
    latest = np.where(known, stamps, np.iinfo("int64").min).argmax(axis=1)
    frame["status"] = np.where(known.any(axis=1), np.array(STEPS, dtype=object)[latest],
                               "accepted")
    return frame


def _in_period(claims: pd.DataFrame, start: dt.datetime, end: dt.datetime) -> pd.Series:
    mask = claims["submitted_at"].between(start, end, inclusive="left")
    for s in STEPS:
        mask |= claims[f"{s}_at"].between(start, end, inclusive="left")
    return mask


class _Reason(msgspec.Struct):
    code: str


class _Row(msgspec.Struct):
    row: int
    status: str
    ref: str | None = None
    metric_code: str | None = None
    errors: list[_Reason] = []


class _Report(msgspec.Struct):
    results: list[_Row]


_report = msgspec.json.Decoder(_Report)


async def _rejections(contract: dict, start: dt.datetime, end: dt.datetime,
                      scope: UUID | None = None) -> list[tuple[str, str, str, int, str]]:
    """(metric, first reason code, batch id, row, client ref) for each rejected row of the
    claim batches received in the period (that `scope` sent, given one)."""
    out = []
    where = IntakeBatch.contract == contract["id"]
    if scope is not None:
        where &= IntakeBatch.organisation == scope
    batches = await IntakeBatch.select(IntakeBatch.id, IntakeBatch.report).where(
        where & (IntakeBatch.kind == "claims")
        & (IntakeBatch.received_at >= start) & (IntakeBatch.received_at < end)
        & (IntakeBatch.accepted < IntakeBatch.rows)).order_by(IntakeBatch.received_at)
    for b in batches:
        for r in _report.decode(b["report"]).results:
            if r.status == "rejected":
                out.append((r.metric_code or "(unreadable row)",
                            r.errors[0].code if r.errors else "rejected", str(b["id"]), r.row,
                            r.ref or ""))
    return out


def _metric_rows(scope: pd.DataFrame, rejected: list, start: dt.datetime, end: dt.datetime,
                 metric_codes: list[str]) -> tuple[list[MetricRow], MetricRow]:
    by_metric: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rejected:
        by_metric[r[0]]["rejected"] += 1
    if len(scope):
        def count(mask: pd.Series, name: str) -> None:
            grouped = scope[mask].groupby("metric_code")["amount"].agg(["count", "sum"])
            for metric, g in grouped.iterrows():
                by_metric[metric][name] += int(g["count"])
                by_metric[metric][f"{name}_amount"] += int(g["sum"])

        count(scope["submitted_at"].between(start, end, inclusive="left"), "accepted")
        for s in STEPS:
            count(scope[f"{s}_at"].between(start, end, inclusive="left"), s)
    order = [*metric_codes, *sorted(set(by_metric) - set(metric_codes))]
    rows = []
    for metric in order:
        d = by_metric[metric]
        rows.append(MetricRow(
            metric_code=metric, received=d["accepted"] + d["rejected"], rejected=d["rejected"],
            accepted=d["accepted"], accepted_amount=d["accepted_amount"],
            sampled=d["sampled"], verified=d["verified"], disputed=d["disputed"],
            approved=d["approved"], approved_amount=d["approved_amount"], paid=d["paid"],
            paid_amount=d["paid_amount"], reversed=d["reversed"],
            reversed_amount=d["reversed_amount"]))
    fields = [f for f in MetricRow.__struct_fields__ if f != "metric_code"]
    totals = MetricRow(metric_code="all", **{f: sum(getattr(r, f) for r in rows)
                                              for f in fields})
    return rows, totals


async def _reconciliation(contract_id: UUID, currency: str, period_from: dt.date,
                          period_to: dt.date) -> list[ReconciliationRow]:
    before = await account_balances(contract=contract_id,
                                    on=period_from - dt.timedelta(days=1))
    after = await account_balances(contract=contract_id, on=period_to)
    from piccolo.query.functions.aggregate import Sum

    moved = await Posting.select(
        Posting.entry.kind.as_alias("kind"), Posting.account.code.as_alias("code"),
        Sum(Posting.amount, alias="total")).where(
        (Posting.account.contract == contract_id) & (Posting.currency == currency)
        & (Posting.entry.effective_on >= period_from)
        & (Posting.entry.effective_on <= period_to)).group_by(
        Posting.entry.kind, Posting.account.code)
    movements: dict[str, dict[str, int]] = defaultdict(dict)
    for r in moved:
        movements[r["code"]][r["kind"]] = int(r["total"] or 0)
    rows = []
    for code, sign, label in ACCOUNTS:
        rows.append(ReconciliationRow(
            account=code, label=label, opening=sign * before.get((code, currency), 0),
            movements={k: sign * movements[code].get(k, 0) for k in KINDS},
            closing=sign * after.get((code, currency), 0)))
    return rows


async def _samples(contract_id: UUID, claims: pd.DataFrame, start: dt.datetime,
                   end: dt.datetime, *, counted: bool = False) -> list[SampleRow]:
    """The draws of the period. `counted`: each draw's population and selection are
    counted over `claims` (a partner's) rather than taken from the draw, which counts the
    whole contract's."""
    draws = await SampleDraw.select().where(
        (SampleDraw.contract == contract_id) & (SampleDraw.drawn_at >= start)
        & (SampleDraw.drawn_at < end)).order_by(SampleDraw.drawn_at)
    out = []
    for d in draws:
        drawn = claims[claims["sample"] == d["id"]]
        chosen = drawn[drawn["sampled_at"].notna()]
        verified = int(chosen["verified_at"].notna().sum())
        disputed = int(chosen["disputed_at"].notna().sum())
        population, selected = ((len(drawn), len(chosen)) if counted
                                else (d["population"], d["selected"]))
        out.append(SampleRow(id=d["id"], drawn_at=d["drawn_at"], drawn_by=d["drawn_by"],
                             seed=d["seed"], rate_bp=d["rate_bp"], population=population,
                             selected=selected, verified=verified, disputed=disputed,
                             pending=max(0, selected - verified - disputed)))
    return out


# The journal entries booked for a claim are keyed by these and its id (`ledger.entries`);
# each check's journal figure is of an entry kind on an account, shown positive by its sign.
CLAIM_KEYS = ("accrue", "pay", "clawback")
CLAIM_CHECKS = (("accrual", "accrued", 1), ("payment", "paid", -1), ("clawback", "accrued", -1))
CHUNK = 500


async def _claim_entries(contract_id: UUID, currency: str, claim_ids: list, period_to: dt.date
                         ) -> pd.DataFrame:
    """The postings to `accrued` and `paid` of the journal entries booked for `claim_ids`
    (accrual, payment and clawback, found by their idempotency keys), effective by the
    period's end: kind, account code, effective date and amount."""
    keys = [f"{prefix}:{c}" for c in claim_ids for prefix in CLAIM_KEYS]
    rows: list[dict] = []
    for i in range(0, len(keys), CHUNK):
        rows += await Posting.select(
            Posting.entry.kind.as_alias("kind"), Posting.account.code.as_alias("code"),
            Posting.entry.effective_on.as_alias("on"), Posting.amount).where(
            (Posting.account.contract == contract_id) & (Posting.currency == currency)
            & Posting.account.code.is_in(["accrued", "paid"])
            & (Posting.entry.effective_on <= period_to)
            & Posting.entry.idempotency_key.is_in(keys[i:i + CHUNK]))
    frame = pd.DataFrame.from_records(rows, columns=["kind", "code", "on", "amount"])
    frame["on"] = frame["on"].map(lambda v: v if isinstance(v, dt.date)
                                  else dt.date.fromisoformat(v))
    return frame


def _claim_journal(entries: pd.DataFrame, period_from: dt.date) -> list[int]:
    """Each check's journal figure over `entries` (`_claim_entries`) effective in the
    period, signed as the contract's are."""
    moved = entries[entries["on"] >= period_from]
    return [sign * int(moved[(moved["kind"] == kind) & (moved["code"] == code)]["amount"].sum())
            for kind, code, sign in CLAIM_CHECKS]


async def _monthly(contract_id: UUID, claims: pd.DataFrame, period_to: dt.date,
                   own: pd.DataFrame | None = None) -> list[tuple[str, int, int]]:
    """Per month up to the period's end: outcomes approved (by the month they were
    achieved) and money paid (by the payment's effective month): the contract's, or, given
    `own` (`_claim_entries` of a partner's claims), that paid for `claims`."""
    approved = claims[claims["approved_at"].notna()]
    outcomes = Counter(pd.to_datetime(approved["achieved_on"]).dt.strftime("%Y-%m")) if len(
        approved) else Counter()
    if own is None:
        paid_rows = await Posting.select(Posting.entry.effective_on.as_alias("on"),
                                         Posting.amount).where(
            (Posting.account.contract == contract_id) & (Posting.account.code == "paid")
            & (Posting.entry.effective_on <= period_to))
    else:
        paid_rows = own[own["code"] == "paid"].to_dict("records")
    paid: Counter[str] = Counter()
    for r in paid_rows:
        on = r["on"] if isinstance(r["on"], dt.date) else dt.date.fromisoformat(r["on"])
        paid[on.strftime("%Y-%m")] -= int(r["amount"])
    months = sorted(set(outcomes) | set(paid))
    if not months:
        return []
    span = pd.period_range(months[0], months[-1], freq="M").strftime("%Y-%m")
    return [(m, int(outcomes.get(m, 0)), int(paid.get(m, 0))) for m in span]


async def _proof(contract_id: UUID, period_from: dt.date, period_to: dt.date,
                 end: dt.datetime) -> JournalProof:
    head = await JournalEntry.select(JournalEntry.seq, JournalEntry.hash).order_by(
        JournalEntry.seq, ascending=False).first()
    in_period = (JournalEntry.contract == contract_id) & (
        JournalEntry.effective_on >= period_from) & (JournalEntry.effective_on <= period_to)
    last = await JournalEntry.select(JournalEntry.seq, JournalEntry.hash).where(
        in_period).order_by(JournalEntry.seq, ascending=False).first()
    count = await JournalEntry.count().where(in_period)
    proof = JournalProof(head_seq=head["seq"] if head else 0,
                         head_hash=head["hash"] if head else "0" * 64, period_entries=count,
                         last_seq=last["seq"] if last else None,
                         last_hash=last["hash"] if last else None)
    # The last checkpoint signed by the period's end; failing that, the first one after it.
    checkpoint = await Checkpoint.select().where(Checkpoint.created_at < end).order_by(
        Checkpoint.seq, ascending=False).first()
    if checkpoint is None:
        checkpoint = await Checkpoint.select().order_by(Checkpoint.seq).first()
        proof.checkpoint_after_period = checkpoint is not None
    if checkpoint is not None:
        proof.checkpoint_seq = checkpoint["seq"]
        proof.checkpoint_hash = checkpoint["head_hash"]
        proof.checkpoint_at = checkpoint["created_at"]
        proof.checkpoint_public_key = checkpoint["public_key"]
        proof.checkpoint_signature = checkpoint["signature"]
    return proof
