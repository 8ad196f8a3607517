"""What an auditor's statement says, read from the database: a few aggregate queries for the
body, and the attached files written by the database, all from one snapshot
(`reports.snapshot`), so that body and files agree however busy the contract is.

A statement covers one contract and a period of UTC dates, both ends included. What
"in the period" means, row by row:

- a claim is *received* when its batch arrived in the period: it was either accepted (a
  claim was created) or rejected (the batch's validation report says why);
- a claim is *sampled*, *verified*, *disputed*, *approved*, *paid* or *reversed* in the
  period when its status history records that step in the period;
- the ledger's figures are the journal's postings whose effective date lies in the period,
  and its balances are those at the day before the period (opening) and at its last day
  (closing), computed as `ledger.balances.contract_balance` computes them (the balance
  GET /api/v1/contracts/{id}/balance?on= gives), from one pass over the contract's postings.

The full claim list and the period's journal entries are not printed: they travel as
attachments (CSV for spreadsheets, JSON for programs; `reports.attachments`), so that the
body stays a few pages however large the contract is. The attachments carry every column
the body's totals are computed from, so an auditor can recompute each figure; the body's
claim figures are counted from the same rows (`claim_source`) the claim files list.

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

import asyncio
import datetime as dt
from collections import Counter, defaultdict
from uuid import UUID

import msgspec
import pandas as pd

from contracts.library import metrics_by_code
from contracts.schemas import ContractTerms
from contracts.service import current_terms
from contracts.tables import Contract, Organisation
from ledger.balances import ContractBalance
from reports.attachments import (
    STEPS,
    Attachment,
    claim_files,
    claim_source,
    rejection_file,
    within_scope,
)
from reports.journal_files import journal_files
from reports.snapshot import Snapshot

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

    def close(self) -> None:
        """Let go of the attachments' temporary files."""
        for a in self.attachments:
            a.close()


def _bounds(period_from: dt.date, period_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(period_from, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(period_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return start, end


async def assemble(contract_id: UUID, period_from: dt.date, period_to: dt.date, *,
                   attachments: bool = True, scope: UUID | None = None) -> Statement:
    """The statement of `contract_id` for the period; given a partner's `scope`, that
    partner's part of it (see the module's docstring). Its attachments' temporary files
    live until `Statement.close` (or until it is garbage)."""
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
    # The claims of contract $1 submitted before $3, from $2 on in the period (`claim_source`).
    args: list = [contract_id, start, end]
    if scope is not None:
        args += [scope, scope == contract["provider"]]
    header = {"contract_id": str(contract_id), "contract_reference": contract["reference"],
              "currency": currency, "period": {"from": period_from.isoformat(),
                                               "to": period_to.isoformat()}}

    async with Snapshot.open(Contract._meta.db) as snapshot:
        # The journal's files take longest: they start first.
        files = asyncio.ensure_future(asyncio.gather(
            journal_files(snapshot, contract_id, period_from, period_to, header),
            claim_files(snapshot, args, header, "" if partner is None else
                        f" of the participants {partner.name} enrolled"))
        ) if attachments else None
        try:
            (by_metric, by_sample, outcomes), ledger, rejected, draws, proof = (
                await asyncio.gather(
                    _claim_figures(snapshot, args),
                    _ledger(snapshot, contract_id, currency, period_from, period_to),
                    _rejections(snapshot, contract_id, start, end, scope),
                    _draws(snapshot, contract_id, start, end),
                    _proof(snapshot, contract_id, period_from, period_to, end)))
            own = None if scope is None else await _claim_entries(snapshot, args, currency,
                                                                  period_to)
            journal_files_, claim_files_ = await files if files else ([], [])
            attached = [*claim_files_, *journal_files_]
        except BaseException:
            if files is not None:
                files.cancel()
                await asyncio.gather(files, return_exceptions=True)
            raise

    rows, totals = _metric_rows(by_metric, rejected, list(metrics))
    rejections = sorted(((m, code), n) for (m, code), n in Counter(
        (r[0], r[1]) for r in rejected).items())
    opening, closing, reconciliation, paid_by_month = ledger
    moved = {r.account: r.movements for r in reconciliation}
    journal = [moved["accrued"]["accrual"], moved["paid"]["payment"],
               -moved["accrued"]["clawback"]]
    booked = journal if own is None else _claim_journal(own, period_from)
    checks = [("approved claims / accruals", totals.approved_amount, booked[0]),
              ("paid claims / payments", totals.paid_amount, booked[1]),
              ("reversed claims / clawbacks", totals.reversed_amount, booked[2])]
    if own is not None:
        paid_by_month = Counter()
        for _, code, on, amount in own:
            if code == "paid":
                paid_by_month[_day(on).strftime("%Y-%m")] -= amount
    statement = Statement(
        contract_id=contract_id, reference=contract["reference"], title=contract["title"],
        intervention=contract["intervention"], status=contract["status"], currency=currency,
        period_from=period_from, period_to=period_to,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        version=contract["version"], terms=terms, parties=parties, metrics=metrics,
        rows=rows, totals=totals,
        rejections=[(m, code, n) for (m, code), n in rejections],
        opening=opening, closing=closing, reconciliation=reconciliation,
        checks=checks, samples=_samples(draws, by_sample, counted=scope is not None),
        monthly=_monthly(outcomes, paid_by_month), proof=proof,
        scope=partner, contract_journal=[] if scope is None else journal)
    if partner is not None:
        statement.parties = [*parties, partner]
    if attachments:
        statement.attachments = [*attached, rejection_file(
            rejected, "" if partner is None else f" that {partner.name} sent")]
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




def _day(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _month(snapshot: Snapshot, sql: str) -> str:
    return f"to_char({sql}, 'YYYY-MM')" if snapshot.postgres else f"substr({sql}, 1, 7)"


# The claims' figures --------------------------------------------------------------------

_COUNTED = ["submitted", *STEPS]


async def _claim_figures(snapshot: Snapshot, args: list
                         ) -> tuple[dict[str, dict[str, int]], dict[str, list[int]],
                                    Counter[str]]:
    """Counted over the claims of `claim_source`, in one query: per metric, how many claims
    were accepted (submitted) and took each step in the period, and their amounts; per
    sample draw, its population, selection, and how many selected were verified and
    disputed; per month achieved, how many were approved by the period's end."""
    width = 2 * len(_COUNTED)
    per_metric = ", ".join(
        f"COUNT(CASE WHEN {x}_at >= $2 THEN 1 END), "
        f"COALESCE(SUM(CASE WHEN {x}_at >= $2 THEN amount END), 0)" for x in _COUNTED)
    per_sample = ("COUNT(*), COUNT(sampled_at), "
                  "COUNT(CASE WHEN sampled_at IS NOT NULL AND verified_at IS NOT NULL THEN 1 END), "
                  "COUNT(CASE WHEN sampled_at IS NOT NULL AND disputed_at IS NOT NULL THEN 1 END)"
                  + ", 0" * (width - 4))
    sample = "sample::text" if snapshot.postgres else "sample"
    month = _month(snapshot, "achieved_on")
    rows = await snapshot.fetch(f"""
WITH {claim_source(len(args) > 3, counting=True)}
SELECT 'metric', metric_code, {per_metric} FROM claims GROUP BY metric_code
UNION ALL
SELECT 'sample', {sample}, {per_sample} FROM claims WHERE sample IS NOT NULL GROUP BY sample
UNION ALL
SELECT 'month', {month}, COUNT(*){", 0" * (width - 1)} FROM claims
WHERE approved_at IS NOT NULL GROUP BY {month}""", *args)  # noqa: S608 - fixed text
    by_metric: dict[str, dict[str, int]] = {}
    by_sample: dict[str, list[int]] = {}
    outcomes: Counter[str] = Counter()
    for grouping, key, *n in rows:
        n = [int(v) for v in n]
        if grouping == "metric":
            by_metric[key] = {}
            for i, x in enumerate(_COUNTED):
                name = "accepted" if x == "submitted" else x
                by_metric[key][name], by_metric[key][f"{name}_amount"] = n[2 * i:2 * i + 2]
        elif grouping == "sample":
            by_sample[str(key)] = n[:4]
        else:
            outcomes[key] = n[0]
    return by_metric, by_sample, outcomes


def _metric_rows(counted: dict[str, dict[str, int]], rejected: list, metric_codes: list[str]
                 ) -> tuple[list[MetricRow], MetricRow]:
    by_metric: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for metric, figures in counted.items():
        by_metric[metric].update(figures)
    for r in rejected:
        by_metric[r[0]]["rejected"] += 1
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


# The ledger's figures -------------------------------------------------------------------


def _balance(contract_id: UUID, currency: str, on: dt.date, b: dict[tuple[str, str], int],
             back: int) -> ContractBalance:
    """`ledger.balances.contract_balance`'s figures from its account balances `b` and the
    amount clawed back by `on` (tests hold the two equal)."""
    def bal(code: str) -> int:
        return b.get((code, currency), 0)

    return ContractBalance(
        contract_id=contract_id, currency=currency, on=on,
        committed=bal("accrued") - bal("budget"), accrued=bal("accrued") + back,
        clawed_back=back, paid=-bal("paid"), payable=-bal("payable"),
        receivable=bal("receivable"), remaining=bal("committed"))


async def _ledger(snapshot: Snapshot, contract_id: UUID, currency: str, period_from: dt.date,
                  period_to: dt.date) -> tuple[ContractBalance, ContractBalance,
                                               list[ReconciliationRow], Counter[str]]:
    """Opening and closing balance, the reconciliation and the money paid per month, from
    one pass over the contract's postings: summed per account code, currency and kind of
    entry, before, in and after the period (and, for payments, per month)."""
    rows = await snapshot.fetch(f"""
SELECT a.code AS acct_code, p.currency AS cur, e.kind AS entry_kind,
       CASE WHEN e.effective_on < $2 THEN 0 WHEN e.effective_on <= $3 THEN 1 ELSE 2 END
         AS bucket,
       CASE WHEN a.code = 'paid' AND e.effective_on <= $3
         THEN {_month(snapshot, "e.effective_on")} END AS month,
       SUM(p.amount)
FROM account a JOIN posting p ON p.account = a.id JOIN journal_entry e ON e.id = p.entry
WHERE a.contract = $1
GROUP BY acct_code, cur, entry_kind, bucket, month""",  # noqa: S608 - fixed text
                                contract_id, period_from, period_to)
    before: dict[tuple[str, str], int] = defaultdict(int)
    through: dict[tuple[str, str], int] = defaultdict(int)
    movements: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    back = [0, 0]  # clawed back by the period's start, by its end
    paid: Counter[str] = Counter()
    for code, cur, kind, bucket, month, total in rows:
        total = int(total)
        if bucket == 2:
            continue
        through[(code, cur)] += total
        if bucket == 0:
            before[(code, cur)] += total
        elif cur == currency:
            movements[code][kind] += total
        if code == "accrued" and kind == "clawback":
            back[1] -= total
            back[0] -= total if bucket == 0 else 0
        if month is not None:
            paid[month] -= total
    day_before = period_from - dt.timedelta(days=1)
    reconciliation = [ReconciliationRow(
        account=code, label=label, opening=sign * before[(code, currency)],
        movements={k: sign * movements[code][k] for k in KINDS},
        closing=sign * through[(code, currency)]) for code, sign, label in ACCOUNTS]
    return (_balance(contract_id, currency, day_before, before, back[0]),
            _balance(contract_id, currency, period_to, through, back[1]),
            reconciliation, paid)


# The journal entries booked for a claim are keyed by these and its id (`ledger.entries`);
# each check's journal figure is of an entry kind on an account, shown positive by its sign.
CLAIM_KEYS = ("accrue", "pay", "clawback")
CLAIM_CHECKS = (("accrual", "accrued", 1), ("payment", "paid", -1), ("clawback", "accrued", -1))


async def _claim_entries(snapshot: Snapshot, args: list, currency: str, period_to: dt.date
                         ) -> list[tuple]:
    """The postings to `accrued` and `paid` of the journal entries booked for the claims
    of `claim_source` in a partner's scope (accrual, payment and clawback, found by their
    idempotency keys), effective by the period's end: (kind, account code, effective
    date, amount)."""
    contract_id, _, end, owner, lead = args
    keys = ", ".join(f"'{k}:' || c.id" for k in CLAIM_KEYS)
    return await snapshot.fetch(f"""
SELECT e.kind, a.code, e.effective_on, p.amount
FROM claim c JOIN participant pa ON pa.id = c.participant
JOIN journal_entry e ON e.idempotency_key IN ({keys})
JOIN posting p ON p.entry = e.id JOIN account a ON a.id = p.account
WHERE c.contract = $1 AND c.submitted_at < $2 AND {within_scope("$3", "$4")}
  AND a.contract = $1 AND p.currency = $5 AND a.code IN ('accrued', 'paid')
  AND e.effective_on <= $6""", contract_id, end, owner, lead, currency,  # noqa: S608
                                period_to)


def _claim_journal(entries: list[tuple], period_from: dt.date) -> list[int]:
    """Each check's journal figure over `entries` (`_claim_entries`) effective in the
    period, signed as the contract's are."""
    moved: Counter[tuple[str, str]] = Counter()
    for kind, code, on, amount in entries:
        if _day(on) >= period_from:
            moved[(kind, code)] += int(amount)
    return [sign * moved[(kind, code)] for kind, code, sign in CLAIM_CHECKS]


# The rest of the body -------------------------------------------------------------------


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


async def _rejections(snapshot: Snapshot, contract_id: UUID, start: dt.datetime,
                      end: dt.datetime, scope: UUID | None = None
                      ) -> list[tuple[str, str, str, int, str]]:
    """(metric, first reason code, batch id, row, client ref) for each rejected row of the
    claim batches received in the period (that `scope` sent, given one)."""
    sent = "" if scope is None else "AND organisation = $4 "
    sql = ("SELECT id, report FROM intake_batch WHERE contract = $1 AND kind = 'claims' "  # noqa: S608
           "AND received_at >= $2 AND received_at < $3 AND accepted < \"rows\" "
           f"{sent}ORDER BY received_at")
    batches = await snapshot.fetch(sql, contract_id, start, end,
                                   *([] if scope is None else [scope]))
    out = []
    for batch, report in batches:
        for r in _report.decode(report).results:
            if r.status == "rejected":
                out.append((r.metric_code or "(unreadable row)",
                            r.errors[0].code if r.errors else "rejected", str(batch), r.row,
                            r.ref or ""))
    return out


async def _draws(snapshot: Snapshot, contract_id: UUID, start: dt.datetime,
                 end: dt.datetime) -> list[tuple]:
    return await snapshot.fetch(
        "SELECT id, drawn_at, drawn_by, seed, rate_bp, population, selected FROM sample_draw "
        "WHERE contract = $1 AND drawn_at >= $2 AND drawn_at < $3 ORDER BY drawn_at",
        contract_id, start, end)


def _samples(draws: list[tuple], by_sample: dict[str, list[int]], *, counted: bool = False
             ) -> list[SampleRow]:
    """The draws of the period. `counted`: each draw's population and selection are
    counted over the claims shown (a partner's) rather than taken from the draw, which
    counts the whole contract's."""
    out = []
    for draw_id, drawn_at, drawn_by, seed, rate_bp, population, selected in draws:
        drawn, chosen, verified, disputed = by_sample.get(str(draw_id), [0, 0, 0, 0])
        if counted:
            population, selected = drawn, chosen
        out.append(SampleRow(id=UUID(str(draw_id)), drawn_at=_instant(drawn_at),
                             drawn_by=drawn_by, seed=seed, rate_bp=rate_bp,
                             population=population, selected=selected, verified=verified,
                             disputed=disputed,
                             pending=max(0, selected - verified - disputed)))
    return out


def _instant(value: object) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value  # type: ignore[return-value]


def _monthly(outcomes: Counter[str], paid: Counter[str]) -> list[tuple[str, int, int]]:
    """Per month up to the period's end: outcomes approved (by the month they were
    achieved) and money paid (by the payment's effective month)."""
    months = sorted(set(outcomes) | set(paid))
    if not months:
        return []
    span = pd.period_range(months[0], months[-1], freq="M").strftime("%Y-%m")
    return [(m, int(outcomes.get(m, 0)), int(paid.get(m, 0))) for m in span]


async def _proof(snapshot: Snapshot, contract_id: UUID, period_from: dt.date,
                 period_to: dt.date, end: dt.datetime) -> JournalProof:
    head = await snapshot.fetch(
        "SELECT seq, hash FROM journal_entry ORDER BY seq DESC LIMIT 1")
    [(count, last_seq)] = await snapshot.fetch(
        "SELECT COUNT(*), MAX(seq) FROM journal_entry WHERE contract = $1 "
        "AND effective_on >= $2 AND effective_on <= $3", contract_id, period_from, period_to)
    last = [] if last_seq is None else await snapshot.fetch(
        "SELECT seq, hash FROM journal_entry WHERE seq = $1", last_seq)
    proof = JournalProof(head_seq=head[0][0] if head else 0,
                         head_hash=head[0][1] if head else "0" * 64, period_entries=count,
                         last_seq=last[0][0] if last else None,
                         last_hash=last[0][1] if last else None)
    # The last checkpoint signed by the period's end; failing that, the first one after it.
    columns = "SELECT seq, head_hash, created_at, public_key, signature FROM checkpoint "
    checkpoint = await snapshot.fetch(
        columns + "WHERE created_at < $1 ORDER BY seq DESC LIMIT 1", end)
    if not checkpoint:
        checkpoint = await snapshot.fetch(columns + "ORDER BY seq LIMIT 1")
        proof.checkpoint_after_period = bool(checkpoint)
    if checkpoint:
        seq, head_hash, created_at, public_key, signature = checkpoint[0]
        proof.checkpoint_seq = seq
        proof.checkpoint_hash = head_hash
        proof.checkpoint_at = _instant(created_at)
        proof.checkpoint_public_key = public_key
        proof.checkpoint_signature = signature
    return proof
