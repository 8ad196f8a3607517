"""Demo data modelled on Den Sociale Investeringsfond's Danish outcome contracts.

INDIGO-POJ-0263 (youth homelessness, Roskilde), POJ-0267 (stress treatment measured with the
PSS score, Rudersdal) and POJ-0313 (IPS employment support, Holbæk), with realistic DKK prices
and caps; and, from `api.demo_effect`, more providers of IPS employment and youth housing
with a few hundred participants each, so that effect, comparison and advice have something
to show. Loaded only into an empty database. The demo's API keys are fixed, so that the
README can name them; never use them outside a demo.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

from api import demo_effect, demo_voice
from contracts import consent, directory, library, service
from contracts.identity import Principal
from contracts.schemas import (
    ApiKeyIn,
    ContractIn,
    MetricIn,
    OrganisationIn,
    UserIn,
)
from contracts.tables import Organisation
from ledger import commitments

PASSWORD = "virker-demo-2026"  # noqa: S105 - the demo's published password
DKK = 100  # øre per krone

ORGS = [
    # key, name, kind, identifier
    ("operator", "Virker drift", "operator", "DK-CVR-90000001"),
    ("roskilde", "Roskilde Kommune", "municipality", "DK-CVR-90000002"),
    ("rudersdal", "Rudersdal Kommune", "municipality", "DK-CVR-90000003"),
    ("holbaek", "Holbæk Kommune", "municipality", "DK-CVR-90000004"),
    ("fund", "Den Sociale Investeringsfond", "outcome_fund", "DK-CVR-90000005"),
    ("ungebolig", "Unge i Bolig Roskilde", "ngo", "DK-CVR-90000006"),
    ("rolig", "Åben og Rolig Stressbehandling", "social_enterprise", "DK-CVR-90000007"),
    ("ips", "Holbæk Jobcenter, IPS-teamet", "municipal_unit", "DK-CVR-90000008"),
    ("revision", "Kommunernes Revision", "audit_firm", "DK-CVR-90000009"),
    *demo_effect.ORGS,
]

USERS = [
    # org key, email, display name, role
    ("operator", "admin@virker.example", "Virker administrator", "admin"),
    ("roskilde", "mette@roskilde.example", "Mette Holm", "commissioner"),
    ("rudersdal", "lars@rudersdal.example", "Lars Winther", "commissioner"),
    ("holbaek", "sofie@holbaek.example", "Sofie Dahl", "commissioner"),
    # Holbæk's checker: payment runs Sofie drafts, Jens approves (maker-checker).
    ("holbaek", "jens@holbaek.example", "Jens Nygaard", "commissioner"),
    ("fund", "anders@sif.example", "Anders Krog", "commissioner"),
    ("ungebolig", "jonas@ungeibolig.example", "Jonas Berg", "provider"),
    ("rolig", "ida@abenogrolig.example", "Ida Lund", "provider"),
    ("ips", "peter@ips-holbaek.example", "Peter Friis", "provider"),
    ("revision", "karen@revision.example", "Karen Munk", "auditor"),
    *demo_effect.USERS,
]

KEYS = [(org, f"vk_demo_{org}_key") for org, *_ in ORGS]

METRICS = [
    dict(code="housing_entry", name="Moved into own tenancy", kind="event", unit="participant",
         definition="The young person has signed a lease and moved into a home of their own.",
         evidence_required="Lease agreement reference", verification_source="provider_evidence",
         category="housing.entry"),
    *[dict(code=f"housing_sustained_{m}m", name=f"Tenancy sustained {m} months",
           kind="duration", unit="participant", duration_days=days,
           definition=f"The young person still holds the tenancy {m} months after moving in "
                      "and does not need help to keep it.",
           evidence_required="Tenancy confirmation from the landlord or the housing register",
           verification_source="admin_data", category="housing.sustained")
      for m, days in ((3, 91), (6, 182), (12, 365))],
    dict(code="education_or_job", name="Entered education or a job", kind="event",
         unit="participant",
         definition="The young person has started an education or a job, shown by receiving "
                    "no maintenance benefit (other than early retirement) for the period.",
         evidence_required="Benefit register extract", verification_source="admin_data"),
    dict(code="wemwbs_increase", name="Well-being increased (WEMWBS)", kind="score_change",
         unit="WEMWBS points", direction="increase",
         definition="Warwick-Edinburgh Mental Well-being Scale score rose by at least the "
                    "contract's threshold from the baseline taken at enrolment.",
         evidence_required="Baseline and follow-up questionnaires",
         verification_source="self_report"),
    dict(code="stress_programme_completed", name="Completed the stress programme",
         kind="event", unit="participant",
         definition="The participant attended the group programme to the end and rated it.",
         evidence_required="Attendance record", verification_source="provider_evidence"),
    dict(code="pss_reduction", name="Stress reduced (PSS-10)", kind="score_change",
         unit="PSS points", direction="decrease",
         definition="Perceived Stress Scale score fell by at least the contract's threshold "
                    "from the score at enrolment, measured 12 months after completion.",
         evidence_required="Baseline and follow-up PSS-10 questionnaires",
         verification_source="self_report"),
    dict(code="employment", name="Entered employment", kind="event", unit="participant",
         definition="Ordinary or subsidised employment of at least 10 hours a week.",
         evidence_required="eIndkomst register extract", verification_source="admin_data",
         category="employment.entry"),
    dict(code="ips_employment", name="Entered work or education (IPS)", kind="event",
         unit="participant",
         definition="A participant with a mental illness has started ordinary or subsidised "
                    "work of at least 10 hours a week, or an education, and no longer "
                    "receives cash benefit for it.",
         evidence_required="eIndkomst or education register extract",
         verification_source="admin_data", category="employment.entry"),
    dict(code="self_employment", name="Became self-employed", kind="event", unit="participant",
         definition="Registered a business with a CVR number and earns from it.",
         evidence_required="CVR registration", verification_source="admin_data"),
    dict(code="fit_for_work", name="Declared fit for work", kind="event", unit="participant",
         definition="The job centre has declared the participant fit for work.",
         evidence_required="Job centre decision", verification_source="admin_data"),
]


def _contracts(ids: dict[str, str]) -> list[dict]:
    def money(kroner: int) -> dict:
        return {"amount": kroner * DKK, "currency": "DKK"}

    auditors = [ids["revision"]]
    return [
        dict(reference="INDIGO-POJ-0263", title="Reducing youth homelessness – Roskilde",
             provider_id=ids["ungebolig"], currency="DKK",
             intervention="Housing first with IPS and Critical Time Intervention for young "
                          "people in unstable housing.",
             terms=dict(
                 service_period={"start": "2022-01-01", "end": "2024-12-31"},
                 enrolment_period={"start": "2022-01-01", "end": "2023-12-31"},
                 claims_deadline="2025-03-31", cap=money(4_000_000),
                 per_participant_cap=money(150_000),
                 commissioners=[{"organisation_id": ids["roskilde"], "share_bp": 7000},
                                {"organisation_id": ids["fund"], "share_bp": 3000}],
                 auditor_ids=auditors, sampling_rate_bp=1000,
                 rate_card=[
                     dict(code="entry", metric_code="housing_entry", price=money(15_000),
                          window={"start_day": 0, "end_day": 365}),
                     *[dict(code=f"sustained-{m}m", metric_code=f"housing_sustained_{m}m",
                            price=money(p), prerequisite_metric="housing_entry",
                            window={"anchor": "prerequisite", "start_day": d,
                                    "end_day": d + 60})
                       for m, d, p in ((3, 91, 20_000), (6, 182, 25_000), (12, 365, 40_000))],
                     dict(code="education-job", metric_code="education_or_job",
                          price=money(30_000), window={"start_day": 0, "end_day": 730}),
                 ])),
        dict(reference="INDIGO-POJ-0267", title="Treatment of stress – Rudersdal",
             provider_id=ids["rolig"], currency="DKK",
             intervention="Åben og Rolig: evidence-based group treatment of stress.",
             terms=dict(
                 service_period={"start": "2022-01-01", "end": "2023-10-31"},
                 enrolment_period={"start": "2022-01-01", "end": "2022-10-31"},
                 claims_deadline="2024-03-31", cap=money(1_000_000),
                 commissioners=[{"organisation_id": ids["rudersdal"], "share_bp": 10000}],
                 auditor_ids=auditors, sampling_rate_bp=2000,
                 rate_card=[
                     dict(code="completion", metric_code="stress_programme_completed",
                          price=money(4_000), window={"start_day": 0, "end_day": 120}),
                     dict(code="pss-12m", metric_code="pss_reduction", price=money(10_000),
                          prerequisite_metric="stress_programme_completed", threshold="5",
                          window={"anchor": "prerequisite", "start_day": 330,
                                  "end_day": 400}),
                 ])),
        dict(reference="INDIGO-POJ-0313",
             title="Employment for mentally vulnerable citizens – Holbæk",
             provider_id=ids["ips"], currency="DKK",
             intervention="Individual Placement and Support (IPS) towards work or education.",
             terms=dict(
                 # Service extended to the end of 2026 (the contract foresaw June 2026).
                 service_period={"start": "2024-01-01", "end": "2026-12-31"},
                 enrolment_period={"start": "2024-01-01", "end": "2025-12-31"},
                 claims_deadline="2027-06-30", cap=money(6_900_000),
                 per_participant_cap=money(60_000),
                 commissioners=[{"organisation_id": ids["holbaek"], "share_bp": 6000},
                                {"organisation_id": ids["fund"], "share_bp": 4000}],
                 auditor_ids=auditors,
                 rate_card=[
                     dict(code="job", metric_code="employment", price=money(35_000),
                          exclusivity_group="work", window={"start_day": 0, "end_day": 540},
                          target=110, horizon_days=365, baseline=dict(
                              kind="comparison_group", rate_bp=2100, n=412,
                              source="Holbæk Jobcenter's matched comparison group: citizens "
                                     "with a mental illness on cash benefit who were not "
                                     "offered IPS, 2021-2023.")),
                     dict(code="own-business", metric_code="self_employment",
                          price=money(35_000), exclusivity_group="work",
                          window={"start_day": 0, "end_day": 540}),
                     dict(code="fit", metric_code="fit_for_work", price=money(10_000),
                          window={"start_day": 0, "end_day": 540}),
                     dict(code="wellbeing", metric_code="wemwbs_increase", price=money(5_000),
                          threshold="3", window={"start_day": 90, "end_day": 540}),
                 ])),
    ]


async def load_demo() -> str:
    if await Organisation.count() > 0:
        return "The database already holds data; the demo was not loaded.\n\n" + summary()
    ids: dict[str, str] = {}
    for key, name, kind, identifier in ORGS:
        org = await directory.create_organisation(
            None, OrganisationIn(name=name, kind=kind, identifier=identifier))
        ids[key] = str(org.id)
    for org_key, email, display_name, role in USERS:
        await directory.create_user(None, msgspec.convert(dict(
            organisation_id=ids[org_key], email=email, display_name=display_name, role=role,
            password=PASSWORD), UserIn))
    for org_key, key in KEYS:
        await directory.create_api_key(
            None, msgspec.convert(dict(organisation_id=ids[org_key], label="demo"), ApiKeyIn),
            fixed_key=key)
    for metric in METRICS:
        await library.create_metric(None, msgspec.convert(metric, MetricIn))
    # The first commissioner of each organisation acts for it; a second, if any, checks
    # (approves the payment runs the first drafts).
    users: dict[str, str] = {}
    checkers: dict[str, str] = {}
    for org, email, _, role in USERS:
        if role == "commissioner":
            (checkers if ids[org] in users else users).setdefault(ids[org], email)
    for spec in [*_contracts(ids), *demo_effect.contracts(ids)]:
        contract = await service.create_contract(None, msgspec.convert(spec, ContractIn))
        # Every commissioner accepts the terms, each by its demo user; the lead's
        # activation is its own acceptance.
        lead, *others = [Principal(organisation_id=UUID(c["organisation_id"]),
                                   role="commissioner", label=f"user:{users[c['organisation_id']]}")
                         for c in spec["terms"]["commissioners"]]
        for other in others:
            await consent.accept_version(other, contract.id, contract.version)
        await commitments.activate(lead, contract.id, "signed by all parties")
    await _holbaek_activity(ids)
    await demo_effect.load(ids, users, checkers)
    await demo_voice.load(users)
    return "Demo data loaded.\n\n" + summary()


async def _holbaek_activity(ids: dict[str, str]) -> None:
    """A year of POJ-0313: enrolments, claims (some rejected), a verification sample, an
    approval, a paid payment run and a clawback, so every screen has something to show."""
    import datetime as dt

    from contracts.tables import Contract
    from outcomes import intake, payments, verification
    from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn

    contract = await Contract.select(Contract.id).where(
        Contract.reference == "INDIGO-POJ-0313").first()
    cid = contract["id"]
    provider = Principal(organisation_id=UUID(ids["ips"]), role="provider", label="demo")
    boss = Principal(organisation_id=UUID(ids["holbaek"]), role="commissioner",
                     label="demo: Sofie Dahl")
    people = [(f"HOL-{n:03d}", dt.date(2024, 1, 8) + dt.timedelta(days=9 * n))
              for n in range(1, 25)]

    def sub(kind: str, key: str) -> intake.Submission:
        return intake.Submission(principal=provider, contract_id=cid, kind=kind,
                                 idempotency_key=key, body_hash=key)

    await intake.submit_participants(sub("participants", "demo-enrol"), [
        (i, ParticipantIn(pseudonym=p, enrolled_on=on, age_band="30-39" if i % 2 else
                          "18-24", area="Holbæk by", cohort="2024"), [])
        for i, (p, on) in enumerate(people, start=1)])
    rows = []
    for i, (p, on) in enumerate(people, start=1):
        metric = "employment" if i % 3 else "self_employment"
        rows.append(ClaimIn(client_ref=f"hol-{i:03d}-work", pseudonym=p, metric_code=metric,
                            achieved_on=on + dt.timedelta(days=120 + i * 5),
                            evidence_ref=f"eindkomst-{i:03d}"))
        if i % 4 == 0:
            rows.append(ClaimIn(client_ref=f"hol-{i:03d}-fit", pseudonym=p,
                                metric_code="fit_for_work",
                                achieved_on=on + dt.timedelta(days=60),
                                evidence_ref=f"jobcenter-{i:03d}"))
    # Two that the rules refuse: a second job for the same person, and an unknown person.
    rows.append(ClaimIn(client_ref="hol-001-own", pseudonym="HOL-001",
                        metric_code="self_employment", achieved_on=dt.date(2024, 9, 1),
                        evidence_ref="cvr-001"))
    rows.append(ClaimIn(client_ref="hol-999-work", pseudonym="HOL-999",
                        metric_code="employment", achieved_on=dt.date(2024, 9, 1),
                        evidence_ref="eindkomst-999"))
    report, _ = await intake.submit_claims(sub("claims", "demo-claims-2024"),
                                           [(i, r, []) for i, r in enumerate(rows, start=1)])
    draw = await verification.draw_sample(boss, cid, "holbaek-2025-q1")
    for n, claim_id in enumerate(draw.selected_claim_ids):
        # The first claim drawn is disputed until the provider sends the employment
        # contract; settled, so that which claim the draw picked changes no figure.
        if n == 0:
            await verification.decide(boss, claim_id, "dispute",
                                      "payslip does not show 10 hours a week")
        await verification.decide(boss, claim_id, "verify",
                                  "employment contract received: 12 hours a week" if n == 0
                                  else "eIndkomst extract checked")
    approvable = [r.id for r in report.results if r.status == "accepted"]
    await verification.approve(boss, cid, approvable, "approved for the 2025 payment")
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), "demo-run-2024",
        "demo-run-2024")
    # Maker and checker: Jens, Holbæk's second commissioner, approves what Sofie drafted.
    await payments.approve_run(msgspec.structs.replace(
        boss, label="user:jens@holbaek.example"), run.id)
    await payments.pay_run(boss, run.id)
    if approvable:
        await payments.clawback(boss, approvable[-1], "the job ended in the trial period")


def summary() -> str:
    users = "\n".join(f"  {email:<28} {role:<13} {name}" for _, email, name, role in USERS)
    keys = "\n".join(
        f"  {next(n for k, n, *_ in ORGS if k == org):<34} {key}" for org, key in KEYS)
    return (
        "Web UI:  http://127.0.0.1:8000/        API docs: http://127.0.0.1:8000/schema\n\n"
        f"Sign in (password for all: {PASSWORD}):\n{users}\n\n"
        "API keys (Authorization: Bearer <key>):\n"
        f"{keys}\n\n"
        "Effect across providers (see README): /api/v1/comparisons/employment.entry and "
        "/api/v1/advice?subject=employment.entry\n"
    )
