"""The files attached to a statement: the claims (CSV and JSON), the journal entries of the
period with every field the hash covers (CSV and JSON), and the rejected rows. Every CSV cell a
spreadsheet would run as a formula is neutralised.

A partner's statement attaches the claims of its own participants and the rejected rows of
the batches it sent; the journal is the contract's, whole (its entries carry claim ids in
their keys and memos, never a pseudonym; a reason a person typed stays in the entry's note,
which is not attached)."""


from __future__ import annotations

import csv as csvlib
import datetime as dt
import io
import re
from collections import defaultdict
from typing import TYPE_CHECKING
from uuid import UUID

import msgspec
import pandas as pd

from ledger.journal import timestamp
from ledger.tables import Account, JournalEntry, Posting

if TYPE_CHECKING:
    from reports.assembly import Statement

STEPS = ("sampled", "verified", "disputed", "approved", "paid", "reversed")


class Attachment(msgspec.Struct, kw_only=True):
    name: str
    description: str
    media_type: str
    data: bytes
    rows: int = 0  # claims, postings or rejected rows it lists




# A cell a spreadsheet would run as a formula: = + - @ or a tab or line break first. Every
# CSV Virker writes quotes such a cell with a leading apostrophe (OWASP's advice), so that a
# provider's "=HYPERLINK(…)" in evidence_ref reaches the auditor's spreadsheet as text. A
# plain number (-6, +3.5) is left as it is. The JSON attachments keep every value verbatim.
_FORMULA = re.compile(r"[=+\-@\t\r\n]")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(spreadsheet_safe)
    return out.to_csv(index=False, lineterminator="\n").encode()


CLAIM_COLUMNS = ["id", "client_ref", "pseudonym", "line_code", "metric_code", "achieved_on",
                 "value", "evidence_ref", "amount", "currency", "status", "submitted_on",
                 *(f"{s}_on" for s in STEPS), "sample", "payment_run", "batch"]


def claim_files(scope: pd.DataFrame, statement: Statement) -> list[Attachment]:
    frame = scope.copy()
    frame["submitted_on"] = frame["submitted_at"]
    for s in STEPS:
        frame[f"{s}_on"] = frame[f"{s}_at"]
    for column in ["submitted_on", *(f"{s}_on" for s in STEPS)]:
        frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    for column in ("id", "sample", "payment_run", "batch"):
        frame[column] = frame[column].map(lambda v: None if v is None or v != v else str(v))
    frame["achieved_on"] = frame["achieved_on"].map(
        lambda v: v.isoformat() if isinstance(v, dt.date) else v)
    frame = frame[CLAIM_COLUMNS].sort_values(["submitted_on", "client_ref"], kind="stable")
    frame = frame.astype(object).where(frame.notna(), None)
    csv = safe_csv(frame)
    document = {
        "format": "virker-claims-v1", "contract_id": str(statement.contract_id),
        "contract_reference": statement.reference, "currency": statement.currency,
        "period": {"from": statement.period_from.isoformat(),
                   "to": statement.period_to.isoformat()},
        "columns": CLAIM_COLUMNS, "claims": frame.to_numpy().tolist()}
    whose = ("" if statement.scope is None
             else f" of the participants {statement.scope.name} enrolled")
    return [
        Attachment(name="claims.csv", media_type="text/csv", data=csv, rows=len(frame),
                   description=f"Every claim{whose} received or moved in the period, one row "
                               "each; amounts in minor units; *_on columns are the UTC date "
                               "of each step"),
        Attachment(name="claims.json", media_type="application/json",
                   data=msgspec.json.encode(document), rows=len(frame),
                   description="The same claims as JSON: columns and rows")]


async def journal_files(contract_id: UUID, period_from: dt.date, period_to: dt.date,
                         statement: Statement) -> list[Attachment]:
    where = (JournalEntry.contract == contract_id) & (
        JournalEntry.effective_on >= period_from) & (JournalEntry.effective_on <= period_to)
    entries = await JournalEntry.select(
        JournalEntry.id, JournalEntry.seq, JournalEntry.kind, JournalEntry.effective_on,
        JournalEntry.recorded_at, JournalEntry.contract, JournalEntry.idempotency_key,
        JournalEntry.reverses, JournalEntry.memo, JournalEntry.prev_hash, JournalEntry.hash,
    ).where(where).order_by(JournalEntry.seq)
    postings = await Posting.select(Posting.entry_seq, Posting.account, Posting.amount,
                                    Posting.currency).where(
        (Posting.entry.contract == contract_id) & (Posting.entry.effective_on >= period_from)
        & (Posting.entry.effective_on <= period_to)).order_by(Posting.entry_seq)
    accounts = {r["id"]: r for r in await Account.select(
        Account.id, Account.code, Account.organisation, Account.contract, Account.currency,
        Account.organisation.identifier.as_alias("identifier")).where(
        Account.contract == contract_id)}
    by_seq: dict[int, list] = defaultdict(list)
    for p in postings:
        by_seq[p["entry_seq"]].append(p)
    lines = io.StringIO()
    writer = csvlib.writer(lines, lineterminator="\n")
    writer.writerow(["seq", "entry_id", "kind", "effective_on", "recorded_at",
                     "idempotency_key", "reverses", "account_id", "account", "organisation",
                     "amount", "currency", "prev_hash", "hash"])
    json_entries = []
    for e in entries:
        recorded = timestamp(e["recorded_at"] if isinstance(e["recorded_at"], dt.datetime)
                             else dt.datetime.fromisoformat(e["recorded_at"]))
        on = e["effective_on"]
        on = on.isoformat() if isinstance(on, dt.date) else on
        legs = sorted(by_seq[e["seq"]], key=lambda p: (str(p["account"]), p["currency"],
                                                        p["amount"]))
        for p in legs:
            a = accounts.get(p["account"], {"code": "?", "identifier": ""})
            writer.writerow([spreadsheet_safe(v) for v in (
                e["seq"], e["id"], e["kind"], on, recorded, e["idempotency_key"],
                e["reverses"] or "", p["account"], a["code"], a["identifier"], p["amount"],
                p["currency"], e["prev_hash"], e["hash"])])
        json_entries.append({
            "seq": e["seq"], "id": str(e["id"]), "kind": e["kind"], "effective_on": on,
            "recorded_at": recorded, "contract": str(e["contract"]),
            "idempotency_key": e["idempotency_key"], "reverses": e["reverses"] or None,
            "memo": e["memo"], "postings": [_posting_facts(p, accounts) for p in legs],
            "prev_hash": e["prev_hash"], "hash": e["hash"]})
    document = {
        "format": "virker-journal-v1", "contract_id": str(contract_id),
        "period": {"from": period_from.isoformat(), "to": period_to.isoformat()},
        "hash": "sha256(bytes.fromhex(prev_hash) || canonical); canonical = JSON array "
                "[2, seq, id, kind, effective_on, recorded_at, contract, idempotency_key, "
                "reverses, memo, postings], each posting [account, account_contract, "
                "account_organisation, account_code, currency, amount], no whitespace "
                "(docs/ledger.md)",
        "accounts": {str(k): {"code": a["code"], "organisation": str(a["organisation"]),
                              "organisation_identifier": a["identifier"]}
                     for k, a in accounts.items()},
        "entries": json_entries}
    return [
        Attachment(name="journal.csv", media_type="text/csv", data=lines.getvalue().encode(),
                   rows=len(postings),
                   description="The contract's journal entries effective in the period, one "
                               "row per posting; amounts in minor units, debits positive"),
        Attachment(name="journal.json", media_type="application/json",
                   data=msgspec.json.encode(document), rows=len(entries),
                   description="The same entries as JSON, with every field the hash chain "
                               "covers, so that each entry's hash can be recomputed")]


def _posting_facts(p: dict, accounts: dict) -> list:
    """A posting as the hash covers it: the account and what it is, currency, amount."""
    a = accounts.get(p["account"])
    if a is None:
        return [str(p["account"]), None, None, None, p["currency"], p["amount"]]
    return [str(p["account"]), str(a["contract"]), str(a["organisation"]), a["code"],
            p["currency"], p["amount"]]


def rejection_file(rejected: list, statement: Statement | None = None) -> Attachment:
    data = safe_csv(pd.DataFrame.from_records(
        rejected, columns=["metric_code", "reason", "batch", "row", "client_ref"]))
    whose = ("" if statement is None or statement.scope is None
             else f" that {statement.scope.name} sent")
    return Attachment(name="rejections.csv", media_type="text/csv",
                      data=data, rows=len(rejected),
                      description=f"Rows of the period's claim batches{whose} that were "
                                  "rejected, with the first reason code")
