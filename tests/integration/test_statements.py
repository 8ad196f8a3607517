"""Auditor statements and remittances on both engines: the figures an auditor reads equal
the ledger's, the attachments carry the same totals and re-hash to the journal, and the file
is PDF/A-3u."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pandas as pd
import pikepdf
import pikepdf.pdfa as pdfa
import pytest
from pypdf import PdfReader

from ledger.balances import contract_balance
from ledger.journal import GENESIS
from outcomes import intake, payments, verification
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from reports.assembly import ACCOUNTS, KINDS, assemble
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

    # Every entry re-hashes from the attachment alone, as docs/statements.md says.
    journal_json = json.loads(files["journal.json"])
    assert len(journal_json["entries"]) == statement.proof.period_entries
    assert rehash(journal_json) == len(journal_json["entries"])
    assert journal_json["entries"][0][ENTRY.index("prev_hash")] == GENESIS


ENTRY = ["version", "seq", "id", "kind", "effective_on", "recorded_at", "idempotency_key",
         "reverses", "memo", "postings", "prev_hash", "hash"]


def rehash(journal: dict) -> int:
    """What an auditor does with journal.json and nothing of Virker's (docs/statements.md,
    docs/ledger.md): rebuild each entry's canonical bytes, chain the hashes, and compare
    each with the hash the file states. Returns how many entries matched."""
    assert journal["format"] == "virker-journal-v2" and journal["columns"] == ENTRY
    accounts = journal["accounts"]
    previous = None
    for row in journal["entries"]:
        e = dict(zip(ENTRY, row, strict=True))
        postings = []
        for account, currency, amount in e["postings"]:
            if isinstance(account, int):
                a = accounts[account]
                account = [a["id"], a["contract"], a["organisation"], a["code"]]
            postings.append([*account, currency, amount])
        postings.sort(key=lambda p: (p[0], p[4], p[5]))
        canonical = json.dumps(
            [e["version"], e["seq"], e["id"], e["kind"], e["effective_on"], e["recorded_at"],
             journal["contract_id"], e["idempotency_key"], e["reverses"], e["memo"], postings],
            ensure_ascii=False, separators=(",", ":")).encode()
        prev_hash = previous if e["prev_hash"] is None else e["prev_hash"]
        assert prev_hash is not None, e["seq"]  # only the first line's is implied by nothing
        assert hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest() == e["hash"], (
            e["seq"])
        previous = e["hash"]
    return len(journal["entries"])


async def sampled_contract(w) -> tuple:
    """Eight claims under a 50 % sample: what was drawn verified, one disputed, the rest
    approved and paid, one paid claim clawed back, and one row rejected."""
    cid = await active_contract(w, sampling_rate_bp=5_000)
    provider = principal(w.ids["provider"], "provider")
    boss = principal(w.ids["commissioner"], "commissioner")
    await intake.submit_participants(intake.Submission(
        principal=provider, contract_id=cid, kind="participants", idempotency_key=None,
        body_hash="p"), [(i, ParticipantIn(pseudonym=f"P-{i}", enrolled_on=ENROLLED), [])
                         for i in range(1, 9)])
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="k",
        body_hash="c"), [(i, ClaimIn(client_ref=f"c{i}", pseudonym=f"P-{i}",
                                     metric_code="housing_entry",
                                     achieved_on=ENROLLED + dt.timedelta(days=30),
                                     evidence_ref="=lease" if i == 3 else "lease"), [])
                         for i in range(1, 10)])
    ids = [r.id for r in report.results if r.status == "accepted"]
    draw = await verification.draw_sample(boss, cid, "seed-figures")
    drawn = list(draw.selected_claim_ids)
    assert len(drawn) >= 2, draw
    await verification.decide(boss, drawn[0], "dispute", "no lease on file")
    for claim_id in drawn[1:]:
        await verification.decide(boss, claim_id, "verify", "seen the lease")
    await verification.approve(boss, cid, [c for c in ids if c != drawn[0]], "")
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=FROM, period_to=dt.date(2024, 12, 31)), None, "h")
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    await payments.pay_run(boss, run.id)
    await payments.clawback(boss, drawn[1], "the tenancy ended")
    return cid


async def test_every_figure_of_the_body_is_counted_again_from_the_attachments(db):
    """The body's claim counts and amounts per outcome, its sample, its reconciliation and
    its proof, recounted from the attached files alone: what the database wrote for the
    files (COPY on PostgreSQL, a cursor on SQLite) and what it summed for the body agree."""
    w = await world()
    cid = await sampled_contract(w)
    today = dt.date.today()
    statement = await assemble(cid, FROM, today)
    files = attachments_of(statement_pdf(statement))
    period = (FROM.isoformat(), today.isoformat())
    # The balances are the ledger's own, as GET /balance?on= gives them.
    assert statement.closing == await contract_balance(cid, "DKK", today)
    assert statement.opening == await contract_balance(cid, "DKK", FROM - dt.timedelta(days=1))

    claims = pd.read_csv(io.BytesIO(files["claims.csv"]), dtype=str, keep_default_na=False)
    rejected = pd.read_csv(io.BytesIO(files["rejections.csv"]))
    assert statement.totals.sampled >= 2 and statement.totals.disputed == 1
    assert statement.totals.reversed == 1 and statement.totals.rejected == 1
    for row in [*statement.rows, statement.totals]:
        mine = claims if row.metric_code == "all" else claims[
            claims["metric_code"] == row.metric_code]
        for step, count, amount in [
                ("submitted", row.accepted, row.accepted_amount), ("sampled", row.sampled, None),
                ("verified", row.verified, None), ("disputed", row.disputed, None),
                ("approved", row.approved, row.approved_amount),
                ("paid", row.paid, row.paid_amount),
                ("reversed", row.reversed, row.reversed_amount)]:
            moved = mine[mine[f"{step}_on"].between(*period)]
            assert len(moved) == count, (row.metric_code, step)
            if amount is not None:
                assert moved["amount"].astype(int).sum() == amount, (row.metric_code, step)
        assert row.rejected == (len(rejected) if row.metric_code == "all" else int(
            (rejected["metric_code"] == row.metric_code).sum()))
    [draw] = statement.samples
    chosen = claims[claims["sampled_on"] != ""]
    assert (draw.selected, draw.verified, draw.disputed) == (
        len(chosen), int((chosen["verified_on"] != "").sum()),
        int((chosen["disputed_on"] != "").sum()))
    assert set(chosen["sample"]) == {str(draw.id)}
    # The JSON lists the same claims, value for value (the CSV neutralises a formula).
    as_json = json.loads(files["claims.json"])
    assert as_json["columns"] == list(claims.columns)
    for listed, row in zip(as_json["claims"], claims.itertuples(index=False), strict=True):
        assert ["" if v is None else str(v) for v in listed] == [
            v[1:] if v.startswith("'=") else v for v in row]

    journal = pd.read_csv(io.BytesIO(files["journal.csv"]))
    for r, (code, sign, _) in zip(statement.reconciliation, ACCOUNTS, strict=True):
        for kind in KINDS:
            moved = journal[(journal["account"] == code) & (journal["kind"] == kind)]
            assert sign * int(moved["amount"].sum()) == r.movements[kind], (code, kind)
    entries = json.loads(files["journal.json"])["entries"]
    assert rehash(json.loads(files["journal.json"])) == statement.proof.period_entries
    assert (entries[-1][1], entries[-1][-1]) == (statement.proof.last_seq,
                                                 statement.proof.last_hash)
    assert sum(len(e[ENTRY.index("postings")]) for e in entries) == len(journal)
    # The body lists each file with its rows and the SHA-256 of its bytes.
    listed = {a.name: a for a in statement.attachments}
    assert (listed["claims.csv"].rows, listed["journal.csv"].rows,
            listed["journal.json"].rows) == (len(claims), len(journal), len(entries))
    for name, data in files.items():
        assert listed[name].spooled().sha256 == hashlib.sha256(data).hexdigest(), name
    statement.close()


async def test_the_files_are_pdf_a_3_associated_files(db):
    """Each attached file as PDF/A-3 wants it: an embedded file stream with its MIME type,
    size, MD5 and dates, a file specification with its relationship, listed in the
    catalog's /AF and in the /EmbeddedFiles name tree; and pikepdf's PDF/A validator finds
    nothing wrong but what it cannot judge (its flavours are the "b" ones)."""
    w = await world()
    cid, *_ = await busy_contract(w)
    pdf = statement_pdf(await assemble(cid, FROM, dt.date.today()))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert [str(f.F) for f in doc.Root.AF] == sorted(doc.attachments)
        for spec in doc.Root.AF:
            stream = spec.EF.F
            data = stream.read_bytes()
            assert spec.AFRelationship == pikepdf.Name.Data and spec.UF == spec.F
            assert stream.Type == pikepdf.Name.EmbeddedFile
            assert str(stream.Subtype) == {".csv": "/text/csv", ".json": "/application/json"}[
                Path(str(spec.F)).suffix]
            assert stream.Filter == pikepdf.Name.FlateDecode
            assert int(stream.Params.Size) == len(data)
            assert bytes(stream.Params.CheckSum) == hashlib.md5(data).digest()
            assert str(stream.Params.ModDate).startswith("D:")
    report = pdfa.validate_written(io.BytesIO(pdf), "3b")
    violations = [f for f in report.findings if f.kind != "unsupported"]
    assert [f.rule for f in violations] == ["ISO_19005_3:6.6.4-3"], report.findings
    assert "pdfaid:conformance is 'U'" in violations[0].message  # 3u, as it should be


def documented_rehash() -> str:
    """The re-hashing script docs/statements.md gives auditors."""
    doc = (Path(__file__).parents[2] / "docs" / "statements.md").read_text()
    after = doc[doc.index("To re-hash the period without Virker"):]
    code = after[after.index("```python") + len("```python"):]
    return code[:code.index("```")]


async def test_the_documented_script_rehashes_journal_json_and_catches_a_change(
        db, tmp_path, monkeypatch):
    w = await world()
    cid, *_ = await busy_contract(w)
    files = attachments_of(statement_pdf(await assemble(cid, FROM, dt.date.today())))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "journal.json").write_bytes(files["journal.json"])
    exec(documented_rehash(), {})  # the documentation's own code
    journal = json.loads(files["journal.json"])
    journal["entries"][2][ENTRY.index("postings")][0][2] += 100  # an amount changed
    (tmp_path / "journal.json").write_text(json.dumps(journal))
    with pytest.raises(AssertionError) as failed:
        exec(documented_rehash(), {})
    assert str(failed.value) == str(journal["entries"][2][1])  # names the entry


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
