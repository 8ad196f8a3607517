"""A contract delivered by a partnership, on both engines: a lead provider and two partners
each enrol and claim for their own participants under one rate card; a partner sees the
contract and the partnership's figures but only its own participants, claims and batches;
a payment run says what each provider is owed, by who claimed or by the agreed split."""

from __future__ import annotations

import datetime as dt
import io
import re
from uuid import UUID

import msgspec
import pandas as pd
import pikepdf
import pytest

from contracts import service
from contracts.errors import Invalid, NotFound
from contracts.schemas import ContractIn, ContractTerms, PartnerShare, VariationIn
from ledger import commitments
from ledger.balances import contract_balance
from outcomes import intake, payments, queries, verification
from outcomes.payments import provider_shares
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from outcomes.tables import Participant
from reports.formats import money
from reports.remittance import remittance
from reports.render import remittance_pdf
from tests.helpers import (
    World,
    contract_body,
    intake_terms,
    org,
    partnership,
    principal,
    world,
)

ENROLLED = dt.date(2024, 2, 1)
ACHIEVED = ENROLLED + dt.timedelta(days=30)
ENTRY = 1_500_000  # the housing entry line's price, in øre
# Who enrols whom: the lead two participants, partner A one, partner B three.
ROSTER = {"provider": ["L-1", "L-2"], "partner_a": ["A-1"], "partner_b": ["B-1", "B-2", "B-3"]}


def provider(w: World, name: str):
    return principal(w.ids[name], "provider")


def sub(w: World, cid: UUID, name: str, kind: str, key: str | None = None):
    return intake.Submission(principal=provider(w, name), contract_id=cid, kind=kind,
                             idempotency_key=key, body_hash=f"{name}:{kind}:{key}")


async def enrol(w: World, cid: UUID, name: str, *pseudonyms: str, on: dt.date = ENROLLED):
    report, _ = await intake.submit_participants(
        sub(w, cid, name, "participants"),
        [(i, ParticipantIn(pseudonym=p, enrolled_on=on), [])
         for i, p in enumerate(pseudonyms, 1)])
    return report


async def claim(w: World, cid: UUID, name: str, *pseudonyms: str):
    report, _ = await intake.submit_claims(
        sub(w, cid, name, "claims", f"{name}-{'-'.join(pseudonyms)}"),
        [(i, ClaimIn(client_ref=f"{name}:{p}-entry", pseudonym=p, metric_code="housing_entry",
                     achieved_on=ACHIEVED, evidence_ref="lease"), [])
         for i, p in enumerate(pseudonyms, 1)])
    return report


async def delivered(w: World, **kw) -> tuple[UUID, dict[str, list[UUID]]]:
    """A partnership in which each provider enrolled its roster and claimed a housing entry
    for each of its participants: the claims' ids per provider."""
    cid = await partnership(w, sampling_rate_bp=0, **kw)
    claims: dict[str, list[UUID]] = {}
    for name, pseudonyms in ROSTER.items():
        report = await enrol(w, cid, name, *pseudonyms)
        assert [r.status for r in report.results] == ["created"] * len(pseudonyms)
        report = await claim(w, cid, name, *pseudonyms)
        assert [r.status for r in report.results] == ["accepted"] * len(pseudonyms), report
        claims[name] = [r.id for r in report.results]
    return cid, claims


async def paid_run(w: World, cid: UUID, claims: dict[str, list[UUID]]):
    boss = principal(w.ids["commissioner"], "commissioner")
    await verification.draw_sample(boss, cid, "seed-0000")
    await verification.approve(boss, cid, [c for ids in claims.values() for c in ids], "")
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "h")
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    return await payments.pay_run(boss, run.id)


def pseudonyms(page) -> set[str]:
    return {item.pseudonym for item in page.items}


# Who sees what -------------------------------------------------------------------------------


async def test_each_partner_sees_its_own_participants_and_the_lead_sees_all(db):
    w = await world()
    cid, claims = await delivered(w)
    everyone = {p for names in ROSTER.values() for p in names}
    for name, own in ROSTER.items():
        seen = await queries.list_participants(provider(w, name), cid, count=True)
        expected = everyone if name == "provider" else set(own)
        assert pseudonyms(seen) == expected and seen.total == len(expected), name
        seen = await queries.list_claims(provider(w, name), cid, queries.ClaimFilter(),
                                         count=True)
        assert pseudonyms(seen) == expected and seen.total == len(expected), name
    for who, role in [("commissioner", "commissioner"), ("auditor", "auditor"),
                      ("admin", "admin")]:
        seen = await queries.list_participants(principal(w.ids[who], role), cid)
        assert pseudonyms(seen) == everyone, who
        seen = await queries.list_claims(principal(w.ids[who], role), cid,
                                         queries.ClaimFilter())
        assert pseudonyms(seen) == everyone, who
    # A partner asking for another's participant by pseudonym finds nothing.
    seen = await queries.list_claims(provider(w, "partner_a"), cid,
                                     queries.ClaimFilter(participant="B-1"), count=True)
    assert seen.items == [] and seen.total == 0
    # Every partner sees the contract and its terms, partners included.
    for name in ROSTER:
        contract = await service.get_contract(provider(w, name), cid)
        assert [p.organisation_id for p in contract.terms.partners] == [
            w.ids["partner_a"], w.ids["partner_b"]]


async def test_a_partner_fetching_anothers_claim_or_batch_is_told_it_does_not_exist(db):
    w = await world()
    cid, claims = await delivered(w)
    theirs = claims["partner_b"][0]
    with pytest.raises(NotFound) as err:
        await queries.get_claim(provider(w, "partner_a"), theirs)
    assert err.value.code == "claim_not_found"
    assert (await queries.get_claim(provider(w, "partner_b"), theirs)).pseudonym == "B-1"
    assert (await queries.get_claim(provider(w, "provider"), theirs)).pseudonym == "B-1"
    boss = principal(w.ids["commissioner"], "commissioner")
    assert (await queries.get_claim(boss, theirs)).id == theirs

    batches_a = await queries.list_batches(provider(w, "partner_a"), cid, count=True)
    assert {b.organisation_id for b in batches_a.items} == {w.ids["partner_a"]}
    assert batches_a.total == 2  # its enrolment and its claims
    assert (await queries.list_batches(provider(w, "provider"), cid, count=True)).total == 6
    batch_b = (await queries.list_batches(provider(w, "partner_b"), cid)).items[0].id
    with pytest.raises(NotFound) as err:
        await queries.get_batch_detail(provider(w, "partner_a"), batch_b)
    assert err.value.code == "batch_not_found"
    with pytest.raises(NotFound) as err:
        await queries.get_batch(provider(w, "partner_a"), cid, batch_b)
    assert err.value.code == "batch_not_found"
    assert (await queries.get_batch_detail(boss, batch_b)).id == batch_b


async def test_a_partner_claiming_for_anothers_participant_is_told_it_is_not_enrolled(db):
    w = await world()
    cid, _ = await delivered(w)
    for name, pseudonym in [("partner_a", "B-1"), ("partner_b", "L-1"), ("provider", "A-1")]:
        report = await claim(w, cid, name, pseudonym)
        [row] = report.results
        assert row.status == "rejected", (name, pseudonym)
        assert [e.code for e in row.errors] == ["not_enrolled"]
        # The same answer as for a pseudonym nobody enrolled.
        nobody = (await claim(w, cid, name, "NOBODY-1")).results[0]
        assert [(e.code, e.field) for e in nobody.errors] == [
            (e.code, e.field) for e in row.errors]


async def test_a_pseudonym_is_one_participant_across_the_partnership(db):
    w = await world()
    cid, _ = await delivered(w)
    lead_name = (await service.get_contract(provider(w, "provider"), cid)).provider_id
    # Partner A enrols the lead's L-1, on the lead's date and on another: refused alike,
    # saying nothing of who enrolled it or when.
    for on in (ENROLLED, ENROLLED + dt.timedelta(days=3)):
        [row] = (await enrol(w, cid, "partner_a", "L-1", on=on)).results
        assert row.status == "rejected"
        [problem] = row.errors
        assert (problem.code, problem.field) == ("participant_conflict", "pseudonym")
        assert str(ENROLLED) not in problem.message and str(lead_name) not in problem.message
    # Its own, sent again, is unchanged as ever.
    [row] = (await enrol(w, cid, "partner_a", "A-1")).results
    assert row.status == "unchanged"
    owners = {r["pseudonym"]: r["organisation"] for r in await Participant.select(
        Participant.pseudonym, Participant.organisation)}
    assert owners == {p: w.ids[name] for name, names in ROSTER.items() for p in names}


# Terms ---------------------------------------------------------------------------------------


async def test_partners_must_be_other_registered_providers(db):
    w = await world()
    municipality = await org("municipality")
    body = contract_body(w.ids["provider"], [(w.ids["commissioner"], 10_000)])
    body["terms"]["partners"] = [{"organisation_id": str(w.ids["provider"])},
                                 {"organisation_id": "01900000-0000-7000-8000-000000000000"},
                                 {"organisation_id": str(municipality)}]
    with pytest.raises(Invalid) as err:
        await service.create_contract(None, msgspec.convert(body, ContractIn))
    found = {(p.code, p.field) for p in err.value.problems}
    assert {("partner_is_lead", "terms.partners[0].organisation_id"),
            ("unknown_organisation", "terms.partners[1].organisation_id"),
            ("not_a_provider", "terms.partners[2].organisation_id")} <= found


async def test_a_variation_adds_and_removes_a_partner(db):
    w = await world()
    newcomer = await org("ngo")
    a, b = w.ids["commissioner"], w.ids["co_commissioner"]
    body = contract_body(w.ids["provider"], [(a, 6000), (b, 4000)])
    body["terms"] = intake_terms([(a, 6000), (b, 4000)])
    draft = await service.create_contract(None, msgspec.convert(body, ContractIn))
    newcomer_sees = principal(newcomer, "provider")
    with pytest.raises(NotFound):
        await service.get_contract(newcomer_sees, draft.id)
    boss = principal(a, "commissioner")

    async def vary(partners: list[dict]) -> None:
        current = await service.get_contract(boss, draft.id)
        terms = {**msgspec.to_builtins(current.terms), "partners": partners}
        proposal = await commitments.vary(boss, draft.id, msgspec.convert(
            dict(reason="the partnership changes", terms=terms), VariationIn))
        assert proposal.status == "applied"

    await vary([{"organisation_id": str(newcomer)}])
    assert (await service.get_contract(newcomer_sees, draft.id)).id == draft.id
    assert [c.id for c in (await service.list_contracts(newcomer_sees)).items] == [draft.id]
    row = await service.get_contract(boss, draft.id)
    assert await service.provider_scope(newcomer_sees, {"provider": row.provider_id}) == newcomer
    await vary([])
    with pytest.raises(NotFound):
        await service.get_contract(newcomer_sees, draft.id)


async def test_the_scope_helper_says_whose_participants_a_caller_sees(db):
    w = await world()
    cid = await partnership(w)
    row, scope = await service.scope_of(provider(w, "partner_a"), cid)
    assert scope == w.ids["partner_a"]
    assert await service.provider_scope(provider(w, "provider"), row) is None
    for who, role in [("commissioner", "commissioner"), ("auditor", "auditor"),
                      ("admin", "admin")]:
        assert await service.provider_scope(principal(w.ids[who], role), row) is None
    with pytest.raises(NotFound):
        await service.scope_of(provider(w, "other_provider"), cid)


# Payment -------------------------------------------------------------------------------------


def shares_of(run) -> dict[UUID, int]:
    return {s.organisation_id: s.amount.amount for s in run.shares}


async def test_paid_by_claimant_each_provider_is_owed_its_own_claims(db):
    w = await world()
    cid, claims = await delivered(w)
    run = await paid_run(w, cid, claims)
    assert run.total.amount == 6 * ENTRY
    assert [(s.organisation_id, s.role) for s in run.shares] == [
        (w.ids["provider"], "lead"), (w.ids["partner_a"], "partner"),
        (w.ids["partner_b"], "partner")]
    assert shares_of(run) == {w.ids[name]: len(names) * ENTRY
                              for name, names in ROSTER.items()}
    # Every party sees the partnership's figures; a partner the run's claims of its own.
    for name in ROSTER:
        seen = await payments.get_run(provider(w, name), run.id)
        assert shares_of(seen) == shares_of(run)
        mine = set(await payments.run_claims(provider(w, name), run.id))
        everyone = {c for ids in claims.values() for c in ids}
        assert mine == (everyone if name == "provider" else set(claims[name])), name
    # The books stay the contract's: one payable, paid in full.
    b = await contract_balance(cid, "DKK", dt.date.today())
    assert (b.paid, b.payable) == (6 * ENTRY, 0)


async def test_paid_by_split_the_parts_follow_the_split_and_sum_to_the_total(db):
    w = await world()
    cid, claims = await delivered(w, partner_payment="by_split", splits=(2_500, 3_333))
    run = await paid_run(w, cid, claims)
    total = 6 * ENTRY
    a, b = total * 2_500 // 10_000, total * 3_333 // 10_000
    assert shares_of(run) == {w.ids["provider"]: total - a - b, w.ids["partner_a"]: a,
                              w.ids["partner_b"]: b}
    assert sum(shares_of(run).values()) == total
    listed = await payments.list_runs(principal(w.ids["commissioner"], "commissioner"), cid)
    assert [shares_of(r) for r in listed] == [shares_of(run)]


def test_the_split_rounds_down_and_gives_the_remainder_to_the_lead():
    lead, a, b = (UUID(int=n) for n in (1, 2, 3))
    terms = msgspec.convert(dict(
        service_period={"start": "2024-01-01", "end": "2024-12-31"},
        enrolment_period={"start": "2024-01-01", "end": "2024-12-31"},
        claims_deadline="2025-03-31", cap={"amount": 1, "currency": "DKK"},
        commissioners=[{"organisation_id": str(UUID(int=9)), "share_bp": 10_000}],
        partners=[{"organisation_id": str(a), "split_bp": 3_333},
                  {"organisation_id": str(b), "split_bp": 3_333}],
        partner_payment="by_split"), ContractTerms)
    for total in (0, 1, 2, 3, 1_001, 99_999, 10**12 + 7):
        parts = provider_shares(total, lead, terms, {})
        assert sum(amount for _, _, amount in parts) == total
        assert [amount for _, _, amount in parts][1:] == [total * 3_333 // 10_000] * 2
    assert provider_shares(1_001, lead, terms, {}) == [
        (lead, "lead", 1_001 - 2 * 333), (a, "partner", 333), (b, "partner", 333)]
    # By claimant, a partner since removed keeps what its claims earned.
    former = UUID(int=4)
    by_claimant = msgspec.structs.replace(
        terms, partner_payment="by_claimant",
        partners=[PartnerShare(organisation_id=a)])
    assert provider_shares(10, lead, by_claimant, {lead: 3, former: 7}) == [
        (lead, "lead", 3), (a, "partner", 0), (former, "partner", 7)]


async def test_the_remittance_shows_what_each_provider_is_owed(db):
    w = await world()
    cid, claims = await delivered(w, partner_payment="by_split", splits=(2_500, 3_333))
    run = await paid_run(w, cid, claims)
    r = await remittance(run.id)
    assert [(p.role, a) for p, a in r.shares] == [
        (s.role, s.amount.amount) for s in run.shares]
    text = _text(remittance_pdf(r))
    section = text[text.index("By provider"):text.index("By outcome")]
    for p, amount in r.shares:
        written = money(amount, "DKK", "da").replace("\xa0", " ")
        assert re.search(rf"{re.escape(p.name)}.*{re.escape(written)}", section), p.name
    assert "25 %" in section and "33.33 %" in section
    assert "Total paid: 90.000,00 kr. for 6 claims." in text.replace("\n", " ")

    # A partner's remittance lists its own claims alone; the totals stay the run's.
    mine = await remittance(run.id, scope=w.ids["partner_a"])
    assert [line.pseudonym for line in mine.lines] == ["A-1"]
    assert mine.total == 6 * ENTRY and mine.claims == 6
    pdf = remittance_pdf(mine)
    text = _text(pdf)
    assert "B-1" not in text and "L-1" not in text and "A-1" in text
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        csv = doc.attachments["remittance.csv"].get_file().read_bytes()
    assert pd.read_csv(io.BytesIO(csv))["pseudonym"].tolist() == ["A-1"]


def _text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages
                     ).replace("\xa0", " ")
