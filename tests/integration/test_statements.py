"""Auditor statements and remittances on both engines: the figures an auditor reads equal
the ledger's, the attachments carry the same totals and re-hash to the journal, and the file
is PDF/A-3u."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pandas as pd
import pikepdf
from pypdf import PdfReader

from ledger.balances import contract_balance
from ledger.journal import GENESIS, EntryFacts, PostingLine, chain_hash
from outcomes import intake, payments
from outcomes.schemas import ClaimIn, PaymentRunIn
from reports.assembly import assemble
from reports.formats import money
from reports.remittance import remittance
from reports.render import remittance_pdf, statement_pdf
from tests.helpers import active_contract, principal, world
from tests.integration.test_ledger import ENROLLED, approved_claims

VIRKER = str(Path(sys.executable).parent / "virker")
FROM = dt.date(2024, 1, 1)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def attachments_of(pdf: bytes) -> dict[str, bytes]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return {name: spec.get_file().read_bytes() for name, spec in doc.attachments.items()}


async def busy_contract(w) -> tuple:
    """Four approved claims (15,000 DKK each) split 60/40 between two commissioners, three
    paid in a run, one of those clawed back, and one row rejected."""
    cid, ids, boss = await approved_claims(w, 4)
    provider = principal(w.ids["provider"], "provider")
    await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="late",
        body_hash="late"), [(1, ClaimIn(client_ref="nobody", pseudonym="P-404",
                                        metric_code="housing_entry", achieved_on=ENROLLED,
                                        evidence_ref="lease"), [])])
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "h")
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    await payments.pay_run(boss, run.id)
    await payments.clawback(boss, ids[0], "the tenancy ended after a week")
    return cid, ids, boss, run.id


async def test_the_statements_figures_are_the_ledgers(db):
    w = await world()
    cid, *_ = await busy_contract(w)
    today = dt.date.today()
    statement = await assemble(cid, FROM, today)
    text = text_of(statement_pdf(statement)).replace("\xa0", " ")
    b = await contract_balance(cid, "DKK", today)
    assert (b.accrued, b.clawed_back, b.paid, b.receivable) == (
        6_000_000, 1_500_000, 6_000_000, 1_500_000)
    section = text[text.index(f"Balance at {today}"):]
    for label, value in [("Committed", b.committed), ("Accrued", b.accrued),
                         ("Clawed back", b.clawed_back), ("Paid", b.paid),
                         ("Payable", b.payable), ("Receivable", b.receivable),
                         ("Remaining", b.remaining)]:
        written = money(value, "DKK", "da").replace("\xa0", " ")
        assert re.search(rf"{label}\s+{re.escape(written)}", section), label
    # Claims to payments: each check agrees, and the counts are what happened.
    assert text.count("agrees") == 3 and "differs" not in text
    totals = statement.totals
    assert (totals.received, totals.rejected, totals.accepted, totals.approved, totals.paid,
            totals.reversed) == (5, 1, 4, 4, 4, 1)
    assert statement.rejections == [("housing_entry", "not_enrolled", 1)]
    assert re.search(r"housing_entry:\s+not_enrolled\s+×\s+1", text), text
    # Both commissioners and their shares are named.
    assert "60 %" in text and "40 %" in text


async def test_the_attachments_parse_and_agree_with_the_body(db):
    w = await world()
    cid, ids, *_ = await busy_contract(w)
    today = dt.date.today()
    statement = await assemble(cid, FROM, today)
    pdf = statement_pdf(statement)
    files = attachments_of(pdf)
    assert set(files) == {"claims.csv", "claims.json", "journal.csv", "journal.json",
                          "rejections.csv"}
    text = text_of(pdf)
    for name, data in files.items():  # the body names each file's digest
        assert hashlib.sha256(data).hexdigest()[:16] in text.replace("\n", ""), name

    claims = pd.read_csv(io.BytesIO(files["claims.csv"]))
    assert len(claims) == 4 and set(claims["id"]) == {str(i) for i in ids}
    in_period = claims["approved_on"].between(FROM.isoformat(), today.isoformat())
    assert claims[in_period]["amount"].sum() == statement.totals.approved_amount == 6_000_000
    assert claims[claims["reversed_on"].notna()]["amount"].sum() == 1_500_000
    assert list(claims["status"]).count("reversed") == 1
    as_json = json.loads(files["claims.json"])
    assert len(as_json["claims"]) == 4 and as_json["columns"][0] == "id"

    journal = pd.read_csv(io.BytesIO(files["journal.csv"]))
    assert journal["amount"].sum() == 0  # every entry balances
    paid = journal[(journal["account"] == "paid") & (journal["kind"] == "payment")]
    assert -paid["amount"].sum() == statement.totals.paid_amount == 6_000_000
    rejections = pd.read_csv(io.BytesIO(files["rejections.csv"]))
    assert list(rejections["reason"]) == ["not_enrolled"]

    # Every entry re-hashes from the attachment alone, and each links to the one before.
    entries = json.loads(files["journal.json"])["entries"]
    assert len(entries) == statement.proof.period_entries
    for e in entries:
        facts = EntryFacts(
            seq=e["seq"], id=e["id"], kind=e["kind"],
            effective_on=dt.date.fromisoformat(e["effective_on"]),
            recorded_at=dt.datetime.fromisoformat(e["recorded_at"].replace("Z", "+00:00")),
            contract=e["contract"], idempotency_key=e["idempotency_key"],
            reverses=e["reverses"], memo=e["memo"],
            postings=tuple(PostingLine(*p) for p in e["postings"]))
        assert chain_hash(e["prev_hash"], facts) == e["hash"], e["seq"]
    assert entries[0]["prev_hash"] == GENESIS
    assert all(a["hash"] == b["prev_hash"] for a, b in itertools.pairwise(entries)
               if b["seq"] == a["seq"] + 1)


async def test_the_statement_is_pdf_a_3u_with_title_and_language(db):
    w = await world()
    cid, *_ = await busy_contract(w)
    statement = await assemble(cid, FROM, dt.date.today())
    with pikepdf.open(io.BytesIO(statement_pdf(statement))) as doc:
        meta = doc.open_metadata()
        assert meta["pdfaid:part"] == "3"
        assert meta["pdfaid:conformance"] == "U"
        assert str(doc.Root.Lang) == "en"
        assert str(doc.docinfo["/Title"]).startswith(f"Outcome statement {statement.reference}")
        # Associated files, as PDF/A-3 wants them, each with its relationship.
        assert {str(f.F) for f in doc.Root.AF} == set(doc.attachments)
        assert {str(f.AFRelationship) for f in doc.Root.AF} == {"/Data"}


async def test_a_contract_with_no_claims_gets_a_statement_of_zeros(db):
    w = await world()
    cid = await active_contract(w)
    statement = await assemble(cid, FROM, dt.date.today())
    pdf = statement_pdf(statement)
    text = text_of(pdf)
    assert statement.totals.received == 0
    assert "No verification sample was drawn in the period." in text
    assert "No approved outcomes or payments yet" in text
    assert re.search(r"Committed\s+1\.000\.000,00\s+kr\.", text)  # the commitment, nothing more
    claims = pd.read_csv(io.BytesIO(attachments_of(pdf)["claims.csv"]))
    assert len(claims) == 0


async def test_a_period_before_the_activity_shows_it_as_the_opening_balance(db):
    w = await world()
    cid, *_ = await busy_contract(w)
    today = dt.date.today()
    later = await assemble(cid, today + dt.timedelta(days=1), today + dt.timedelta(days=30),
                           attachments=False)
    assert later.totals.approved == 0
    payable = next(r for r in later.reconciliation if r.account == "payable")
    assert payable.opening == payable.closing == (await contract_balance(
        cid, "DKK", today)).payable
    assert all(v == 0 for v in payable.movements.values())


async def test_the_remittance_names_each_commissioners_part(db):
    w = await world()
    *_, run_id = await busy_contract(w)
    r = await remittance(run_id)
    assert r.total == sum(line.amount for line in r.lines) == 6_000_000
    parts = {p.name: a for p, _, a in r.by_commissioner}
    assert sorted(parts.values()) == [2_400_000, 3_600_000]  # 40 % and 60 %
    pdf = remittance_pdf(r)
    text = text_of(pdf)
    assert "Total paid: 60.000,00 kr. for 4 claims." in text.replace("\n", " ").replace(
        "\xa0", " ")
    csv = pd.read_csv(io.BytesIO(attachments_of(pdf)["remittance.csv"]))
    assert csv["amount"].sum() == 6_000_000
    part_columns = [c for c in csv.columns if c.startswith("paid_by:")]
    assert (csv[part_columns].sum(axis=1) == csv["amount"]).all()


async def test_virker_statement_writes_the_pdf(db, tmp_path):
    w = await world()
    cid, *_ = await busy_contract(w)
    env = {"VIRKER_DATABASE_URL": db.url, "PATH": "/usr/bin:/bin",
           "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"]}
    out = tmp_path / "s.pdf"
    done = subprocess.run([VIRKER, "statement", str(cid), "--from", "2024-01-01", "-o",
                           str(out)], capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr
    with pikepdf.open(out) as doc:
        assert len(doc.attachments) == 5
    bad = subprocess.run([VIRKER, "statement", str(cid), "--from", "2025-01-01", "--to",
                          "2024-01-01", "-o", str(out)], capture_output=True, text=True,
                         check=False, env=env)
    assert bad.returncode == 1 and "invalid_period" in bad.stderr
