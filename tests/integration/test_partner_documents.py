"""A partner's documents, on both engines: the remittance and the statement a partner of a
partnership downloads, and the sample draws it lists, show the claims, batches and counts of
its own participants and nobody else's; the lead, commissioners and auditors get the whole
contract. The journal is the contract's and travels whole (it holds money and claim ids,
never a pseudonym); a partner's statement reconciles its own claims to the journal entries
of those claims, beside the contract's journal total."""

from __future__ import annotations

import datetime as dt
import io
import json
from uuid import UUID

import pandas as pd
import pikepdf
from pypdf import PdfReader

from contracts.identity import Principal
from outcomes import intake, payments, verification
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from reports import documents
from reports.assembly import assemble
from tests.helpers import World, partnership, principal, world

ENROLLED = dt.date(2024, 2, 1)
ACHIEVED = ENROLLED + dt.timedelta(days=30)
ENTRY = 1_500_000  # the housing entry line's price, in øre
FROM = dt.date(2024, 1, 1)
# Who enrols whom; each also claims once for a pseudonym nobody enrolled (a rejected row).
ROSTER = {"provider": ["LEAD-ONE", "LEAD-TWO"], "partner_a": ["ALFA-ONE"],
          "partner_b": ["BRAVO-ONE", "BRAVO-TWO", "BRAVO-THREE"]}
GHOST = {"provider": "LEAD-GHOST", "partner_a": "ALFA-GHOST", "partner_b": "BRAVO-GHOST"}
PREFIX = {"provider": "LEAD-", "partner_a": "ALFA-", "partner_b": "BRAVO-"}


def provider(w: World, name: str):
    return principal(w.ids[name], "provider")


def boss(w: World):
    return principal(w.ids["commissioner"], "commissioner")


async def delivered(w: World, *, rate_bp: int = 0) -> tuple[UUID, dict[str, list[UUID]]]:
    """A partnership in which each provider enrolled its roster and claimed a housing entry
    for each of its participants and one for a pseudonym nobody enrolled."""
    cid = await partnership(w, sampling_rate_bp=rate_bp)
    claims: dict[str, list[UUID]] = {}
    for name, pseudonyms in ROSTER.items():
        who = provider(w, name)
        await intake.submit_participants(intake.Submission(
            principal=who, contract_id=cid, kind="participants", idempotency_key=None,
            body_hash=f"{name}:p"), [(i, ParticipantIn(pseudonym=p, enrolled_on=ENROLLED), [])
                                     for i, p in enumerate(pseudonyms, 1)])
        report, _ = await intake.submit_claims(intake.Submission(
            principal=who, contract_id=cid, kind="claims", idempotency_key=f"{name}-claims",
            body_hash=f"{name}:c"), [
            (i, ClaimIn(client_ref=f"{name}:{p}", pseudonym=p, metric_code="housing_entry",
                        achieved_on=ACHIEVED, evidence_ref="lease"), [])
            for i, p in enumerate([*pseudonyms, GHOST[name]], 1)])
        assert [r.status for r in report.results] == [
            *["accepted"] * len(pseudonyms), "rejected"], report
        claims[name] = [r.id for r in report.results[:-1]]
    return cid, claims


async def paid(w: World, cid: UUID, claims: dict[str, list[UUID]]) -> UUID:
    """Draw, verify what was drawn, approve every claim and pay them in one run."""
    draw = await verification.draw_sample(boss(w), cid, "seed-partners")
    for claim_id in draw.selected_claim_ids:
        await verification.decide(boss(w), claim_id, "verify", "seen the lease")
    await verification.approve(boss(w), cid, [c for ids in claims.values() for c in ids], "")
    run, _ = await payments.create_run(boss(w), cid, PaymentRunIn(
        period_from=FROM, period_to=dt.date(2024, 12, 31)), None, "h")
    # A second person of the commissioner approves the run the first drafted.
    second = Principal(organisation_id=w.ids["commissioner"], role="commissioner",
                       label="test:second-commissioner")
    await payments.approve_run(second, run.id)
    await payments.pay_run(boss(w), run.id)
    return run.id


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages
                     ).replace("\xa0", " ")


def attachments_of(pdf: bytes) -> dict[str, bytes]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return {name: spec.get_file().read_bytes() for name, spec in doc.attachments.items()}


def everything(pdf: bytes) -> str:
    """The text of the body and of every attached file."""
    return "\n".join([text_of(pdf), *(data.decode() for data in attachments_of(pdf).values())])


def seen(text: str) -> set[str]:
    """Whose pseudonyms (or client references) `text` holds."""
    return {name for name, prefix in PREFIX.items() if prefix in text}


# The remittance ------------------------------------------------------------------------------


async def test_a_partners_remittance_lists_its_own_claims_and_the_leads_all(db):
    w = await world()
    cid, claims = await delivered(w)
    run_id = await paid(w, cid, claims)

    pdf, _ = await documents.remittance(provider(w, "partner_a"), run_id)
    assert seen(everything(pdf)) == {"partner_a"}
    text = text_of(pdf)
    assert seen(text) == {"partner_a"}  # its claims are listed, nobody else's
    csv = pd.read_csv(io.BytesIO(attachments_of(pdf)["remittance.csv"]))
    assert csv["pseudonym"].tolist() == ["ALFA-ONE"]
    # The run's totals and what each provider is owed stay the partnership's.
    assert "Total paid: 90.000,00 kr. for 6 claims." in text.replace("\n", " ")
    section = text[text.index("By provider"):text.index("By outcome")]
    assert "lead" in section and section.count("partner") >= 2 and "All providers" in section

    pdf, _ = await documents.remittance(provider(w, "provider"), run_id)
    assert seen(text_of(pdf)) == {"provider", "partner_a", "partner_b"}
    csv = pd.read_csv(io.BytesIO(attachments_of(pdf)["remittance.csv"]))
    assert sorted(csv["pseudonym"]) == sorted(p for ps in ROSTER.values() for p in ps)


# The statement -------------------------------------------------------------------------------


async def test_a_partners_statement_is_its_part_and_the_leads_the_whole(db):
    w = await world()
    cid, claims = await delivered(w, rate_bp=5_000)
    await paid(w, cid, claims)
    today = dt.date.today()

    pdf, _ = await documents.statement(provider(w, "partner_a"), cid, FROM, today)
    files = attachments_of(pdf)
    text = text_of(pdf)
    assert seen(everything(pdf)) == {"partner_a"}
    assert pd.read_csv(io.BytesIO(files["claims.csv"]))["pseudonym"].tolist() == ["ALFA-ONE"]
    assert [row[2] for row in json.loads(files["claims.json"])["claims"]] == ["ALFA-ONE"]
    rejected = pd.read_csv(io.BytesIO(files["rejections.csv"]))
    assert rejected["client_ref"].tolist() == ["partner_a:ALFA-GHOST"]
    # It says whose part it is, and that the ledger figures are the whole contract's.
    flat = " ".join(text.split())
    partner_name = next(p for p in (await assemble(cid, FROM, today, attachments=False,
                                                   scope=w.ids["partner_a"])).parties
                        if p.role == "partner").name
    assert f"part of {partner_name}" in flat
    assert "the whole partnership" in flat
    # Its claims agree with the journal entries of its claims; the contract's journal
    # total is beside them, labelled.
    assert flat.count("agrees") == 3 and "differs" not in flat
    assert "Journal, whole contract" in flat and "90.000,00" in flat

    pdf_lead, _ = await documents.statement(provider(w, "provider"), cid, FROM, today)
    lead = attachments_of(pdf_lead)
    assert seen(everything(pdf_lead)) == {"provider", "partner_a", "partner_b"}
    assert sorted(pd.read_csv(io.BytesIO(lead["claims.csv"]))["pseudonym"]) == sorted(
        p for ps in ROSTER.values() for p in ps)
    assert len(pd.read_csv(io.BytesIO(lead["rejections.csv"]))) == 3
    assert "part of" not in " ".join(text_of(pdf_lead).split())
    # The journal is the contract's, whole, in both; and it names no participant.
    for name in ("journal.csv", "journal.json"):
        assert files[name] == lead[name], name
        assert seen(lead[name].decode()) == set(), name


async def test_a_partners_statement_reconciles_its_claims_to_their_journal_entries(db):
    w = await world()
    cid, claims = await delivered(w, rate_bp=5_000)
    await paid(w, cid, claims)
    await payments.clawback(boss(w), claims["partner_b"][0], "moved out")
    today = dt.date.today()

    whole = await assemble(cid, FROM, today, attachments=False)
    assert whole.checks == [("approved claims / accruals", 6 * ENTRY, 6 * ENTRY),
                            ("paid claims / payments", 6 * ENTRY, 6 * ENTRY),
                            ("reversed claims / clawbacks", ENTRY, ENTRY)]
    assert whole.scope is None and whole.contract_journal == []
    assert (whole.totals.received, whole.totals.rejected, whole.totals.accepted) == (9, 3, 6)

    for name, reversed_ in [("partner_a", 0), ("partner_b", ENTRY)]:
        mine = await assemble(cid, FROM, today, scope=w.ids[name])
        n = len(ROSTER[name])
        assert mine.scope is not None and mine.scope.role == "partner"
        assert mine.checks == [("approved claims / accruals", n * ENTRY, n * ENTRY),
                               ("paid claims / payments", n * ENTRY, n * ENTRY),
                               ("reversed claims / clawbacks", reversed_, reversed_)], name
        assert mine.contract_journal == [6 * ENTRY, 6 * ENTRY, ENTRY]
        assert (mine.totals.received, mine.totals.rejected, mine.totals.accepted,
                mine.totals.paid) == (n + 1, 1, n, n)
        assert mine.rejections == [("housing_entry", "not_enrolled", 1)]
        # The journal, its balances and its proof are the contract's.
        assert mine.reconciliation == whole.reconciliation
        assert mine.closing == whole.closing and mine.proof == whole.proof
        # The sample and the chart count its own claims.
        [draw] = mine.samples
        [all_of_it] = whole.samples
        assert (draw.id, draw.seed) == (all_of_it.id, all_of_it.seed)
        assert draw.population == n
        assert draw.selected == draw.verified + draw.disputed + draw.pending
        assert sum(o for _, o, _ in mine.monthly) == n
        assert sum(p for _, _, p in mine.monthly) == n * ENTRY
        files = {a.name: a.content() for a in mine.attachments}
        assert seen(files["claims.csv"].decode()) == {name}
        assert files["journal.json"] == {a.name: a.content() for a in (await assemble(
            cid, FROM, today)).attachments}["journal.json"]


# Sample draws --------------------------------------------------------------------------------


async def test_a_partner_lists_the_draws_counting_its_own_claims(db):
    w = await world()
    cid, claims = await delivered(w, rate_bp=5_000)
    draw = await verification.draw_sample(boss(w), cid, "seed-partners")
    chosen = set(draw.selected_claim_ids)
    for who in (boss(w), provider(w, "provider"), principal(w.ids["auditor"], "auditor")):
        [listed] = await verification.list_samples(who, cid)
        assert (listed.id, listed.population, listed.selected) == (draw.id, 6, len(chosen))
    for name in ("partner_a", "partner_b"):
        [listed] = await verification.list_samples(provider(w, name), cid)
        own = set(claims[name])
        assert (listed.id, listed.seed, listed.rate_bp) == (draw.id, draw.seed, draw.rate_bp)
        assert (listed.population, listed.selected) == (len(own), len(own & chosen)), name
        assert set(listed.selected_claim_ids) <= own
