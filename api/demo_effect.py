"""The demo's effect data: several providers delivering the same outcomes, so that a
newcomer sees rates with intervals, a funnel with one provider outside its limits, and
advice in every band.

Modelled on Den Sociale Investeringsfond's contracts: IPS employment support for citizens
with a mental illness (INDIGO-POJ-0312 Slagelse, POJ-0313 Holbæk) and youth housing
(POJ-0263 Roskilde), scaled up to a few hundred participants each and spread to
neighbouring municipalities. Providers differ in their true rates; each participant's
history is drawn from the seed (`random.Random`, one stream per site), so the same seed gives
the same participants, claims and figures on every load and either engine.

Everything goes through the doors the real users use: enrolments and claims through
`outcomes.intake`, one verification sample per contract through `outcomes.verification`
(sampled claims verified, one disputed on the pilot that checks every claim), approval of
what was achieved by APPROVED_UNTIL, payment runs for 2024 and 2025 through
`outcomes.payments`, the Roskilde cohort through `outcomes.cohorts`. The ledger therefore
holds accrued and paid money that reconciles with the claims.

What it shows as of AS_OF (checked by tests/integration/test_demo_effect.py):
- employment.entry: Holbæk, Slagelse and Næstved inside the funnel's limits (maintain),
  Kalundborg below the 99.8 % limit (review; the one contract outside the limits), the
  Odsherred pilot with fewer than 30 observed participants (insufficient evidence).
- housing.entry: Køge above the 95 % limit (expand), the second Roskilde round inside
  (maintain), the first Roskilde contract (POJ-0263, claims closed) with nobody observed.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from uuid import UUID

import msgspec

from contracts import service as contracts_service
from contracts.errors import Conflict
from contracts.identity import Principal
from contracts.tables import Contract
from outcomes import cohorts, intake, payments, verification
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn

SEED = 153  # draws the picture described above (tests/integration/test_demo_effect.py)
AS_OF = dt.date(2026, 11, 26)  # the day the histories run to
APPROVED_UNTIL = dt.date(2026, 6, 30)  # claims achieved by then are approved
PAID_YEARS = (2024, 2025)  # and those achieved in these years paid
DKK = 100

ORGS = [
    ("slagelse", "Slagelse Kommune", "municipality", "DK-CVR-90000010"),
    ("slagelse_ips", "Slagelse Jobcenter, IPS-teamet", "municipal_unit", "DK-CVR-90000011"),
    ("kalundborg", "Kalundborg Kommune", "municipality", "DK-CVR-90000012"),
    ("kalundborg_ips", "Job og Trivsel Kalundborg", "social_enterprise", "DK-CVR-90000013"),
    ("naestved", "Næstved Kommune", "municipality", "DK-CVR-90000014"),
    ("naestved_ips", "IPS Sydsjælland", "ngo", "DK-CVR-90000015"),
    ("odsherred", "Odsherred Kommune", "municipality", "DK-CVR-90000016"),
    ("odsherred_ips", "Odsherred Jobcenter, IPS-teamet", "municipal_unit", "DK-CVR-90000017"),
    ("koege", "Køge Kommune", "municipality", "DK-CVR-90000018"),
    ("bovidere", "Bo Videre Køge", "ngo", "DK-CVR-90000019"),
]

USERS = [
    ("slagelse", "henrik@slagelse.example", "Henrik Bach", "commissioner"),
    ("slagelse_ips", "maja@ips-slagelse.example", "Maja Skov", "provider"),
    ("kalundborg", "birgitte@kalundborg.example", "Birgitte Juhl", "commissioner"),
    ("kalundborg_ips", "rasmus@jobogtrivsel.example", "Rasmus Kjær", "provider"),
    ("naestved", "louise@naestved.example", "Louise Mørk", "commissioner"),
    ("naestved_ips", "ahmad@ips-sydsjaelland.example", "Ahmad Nasser", "provider"),
    ("odsherred", "tove@odsherred.example", "Tove Lind", "commissioner"),
    ("odsherred_ips", "kim@ips-odsherred.example", "Kim Vestergaard", "provider"),
    ("koege", "camilla@koege.example", "Camilla Brandt", "commissioner"),
    ("bovidere", "emil@bovidere.example", "Emil Sand", "provider"),
]

IPS_AGES = (("18-24", 0.2, 1.15), ("25-29", 0.2, 1.05), ("30-39", 0.25, 1.0),
            ("40-49", 0.2, 0.9), ("50-59", 0.15, 0.8))
YOUTH_AGES = (("18-24", 0.75, 1.0), ("25-29", 0.25, 0.95))


@dataclass(frozen=True)
class Outcome:
    """How one metric's outcomes are drawn: with probability `rate` (times the age band's
    factor for the first outcome of a site), `low`–`high` days (mode `mode`) after
    enrolment, or after `after` was achieved (and only then); never for a participant who
    achieved `unless`. `value`: the range of a score change."""

    metric: str
    tag: str
    rate: float
    low: int
    high: int
    mode: int
    after: str | None = None
    unless: str | None = None
    value: tuple[int, int] | None = None


@dataclass(frozen=True)
class Site:
    """One contract's participants and how they fare."""

    reference: str
    provider: str
    prefix: str
    participants: int
    enrol_from: dt.date
    enrol_to: dt.date
    areas: tuple[str, ...]
    ages: tuple[tuple[str, float, float], ...]
    outcomes: tuple[Outcome, ...]
    first: int = 1
    service_end: dt.date = dt.date(2026, 12, 31)
    # The first claims that many the commissioner disputes: only where every claim is
    # sampled, so that which claims are disputed does not depend on the draw.
    disputes: int = 0
    cohort_line: str | None = None  # a cohort line to evaluate


def _ips(rate: float, fit: float = 0.0) -> tuple[Outcome, ...]:
    out = [Outcome("ips_employment", "job", rate, 30, 360, 110)]
    if fit:
        out.append(Outcome("fit_for_work", "fit", fit, 60, 420, 180, unless="ips_employment"))
    return tuple(out)


def _housing(rate: float, sustained: float) -> tuple[Outcome, ...]:
    return (Outcome("housing_entry", "entry", rate, 14, 260, 60),
            Outcome("housing_sustained_6m", "6m", sustained, 182, 230, 190,
                    after="housing_entry"))


D = dt.date
SITES = (
    # Holbæk: POJ-0313's own 24 participants (api/demo.py) and these, numbered from 1001 so
    # that the README's provider can still enrol HOL-100.
    Site("INDIGO-POJ-0313", "ips", "HOL", 276, D(2024, 1, 1), D(2025, 12, 31),
         ("Holbæk by", "Tølløse", "Jyderup", "Svinninge"), IPS_AGES,
         (Outcome("employment", "job", 0.34, 30, 360, 110),
          Outcome("self_employment", "own", 0.05, 90, 420, 240, unless="employment"),
          Outcome("fit_for_work", "fit", 0.12, 45, 400, 150, unless="employment"),
          Outcome("wemwbs_increase", "wemwbs", 0.15, 120, 500, 300, value=(3, 12))),
         first=1001),
    Site("INDIGO-POJ-0312", "slagelse_ips", "SLA", 240, D(2024, 3, 1), D(2025, 12, 31),
         ("Slagelse by", "Korsør", "Skælskør"), IPS_AGES, _ips(0.35)),
    Site("KAL-IPS-2024", "kalundborg_ips", "KAL", 190, D(2024, 7, 1), D(2026, 3, 31),
         ("Kalundborg by", "Høng", "Gørlev"), IPS_AGES, _ips(0.16)),
    Site("NAE-IPS-2024", "naestved_ips", "NAE", 260, D(2024, 1, 1), D(2025, 9, 30),
         ("Næstved by", "Fensmark", "Glumsø"), IPS_AGES, _ips(0.36, fit=0.2)),
    Site("ODS-IPS-2025", "odsherred_ips", "ODS", 60, D(2025, 5, 1), D(2026, 11, 20),
         ("Nykøbing Sj.", "Asnæs", "Vig"), IPS_AGES, _ips(0.40),
         service_end=D(2027, 9, 30), disputes=1),
    Site("ROS-UNGEBOLIG-2024", "ungebolig", "ROS", 400, D(2024, 1, 1), D(2025, 12, 31),
         ("Roskilde by", "Viby Sj.", "Jyllinge"), YOUTH_AGES, _housing(0.60, 0.8),
         cohort_line="cohort-2024"),
    Site("KOGE-UNGEBOLIG-2024", "bovidere", "KOG", 120, D(2024, 4, 1), D(2025, 12, 31),
         ("Køge by", "Herfølge", "Borup"), YOUTH_AGES, _housing(0.78, 0.85)),
)


# The contracts ------------------------------------------------------------------------------


def _money(kroner: int) -> dict:
    return {"amount": kroner * DKK, "currency": "DKK"}


def _terms(ids: dict[str, str], shares: list[tuple[str, int]], service: tuple[str, str],
           enrolment: tuple[str, str], deadline: str, cap: int, lines: list[dict],
           sampling_bp: int = 1000) -> dict:
    return dict(service_period={"start": service[0], "end": service[1]},
                enrolment_period={"start": enrolment[0], "end": enrolment[1]},
                claims_deadline=deadline, cap=_money(cap), per_participant_cap=_money(60_000),
                commissioners=[{"organisation_id": ids[k], "share_bp": s} for k, s in shares],
                auditor_ids=[ids["revision"]], sampling_rate_bp=sampling_bp, rate_card=lines)


def _ips_line(metric: str, price: int, target: int, baseline: dict) -> dict:
    return dict(code="job", metric_code=metric, price=_money(price),
                window={"start_day": 0, "end_day": 540}, horizon_days=365, target=target,
                baseline=baseline)


def _housing_lines(entry_price: int, sustained_price: int, target: int, baseline: dict
                   ) -> list[dict]:
    return [dict(code="entry", metric_code="housing_entry", price=_money(entry_price),
                 window={"start_day": 0, "end_day": 365}, horizon_days=270, target=target,
                 baseline=baseline),
            dict(code="sustained-6m", metric_code="housing_sustained_6m",
                 price=_money(sustained_price), prerequisite_metric="housing_entry",
                 window={"anchor": "prerequisite", "start_day": 182, "end_day": 242},
                 horizon_days=540)]


def contracts(ids: dict[str, str]) -> list[dict]:
    """The contracts of the effect demo, as `ContractIn` bodies."""
    ips = "Individual Placement and Support (IPS): a job consultant in the mental health " \
          "team helps the participant find ordinary work or start an education."
    housing = "Housing first for young homeless people: a tenancy of their own and a " \
              "support worker (Critical Time Intervention) until they manage it alone."
    return [
        dict(reference="INDIGO-POJ-0312",
             title="Employment for mentally vulnerable citizens – Slagelse",
             provider_id=ids["slagelse_ips"], currency="DKK", intervention=ips,
             terms=_terms(ids, [("slagelse", 6000), ("fund", 4000)],
                          ("2024-03-01", "2026-12-31"), ("2024-03-01", "2025-12-31"),
                          "2027-06-30", 4_100_000, [_ips_line(
                              "ips_employment", 30_000, 90, dict(
                                  kind="historical", rate_bp=1900,
                                  source="Slagelse Jobcenter's own records: share of citizens"
                                         " with a mental illness on cash benefit in work or "
                                         "education within 12 months, 2020-2023."))])),
        dict(reference="KAL-IPS-2024", title="IPS employment support – Kalundborg",
             provider_id=ids["kalundborg_ips"], currency="DKK", intervention=ips,
             terms=_terms(ids, [("kalundborg", 10_000)], ("2024-06-01", "2026-12-31"),
                          ("2024-07-01", "2026-03-31"), "2027-06-30", 3_000_000,
                          [_ips_line("ips_employment", 32_000, 75, dict(
                              kind="comparison_group", rate_bp=2000, n=286,
                              source="Kalundborg Jobcenter's comparison group: citizens "
                                     "referred to the ordinary mentor scheme in 2022-2023."))],
                          sampling_bp=2000)),
        dict(reference="NAE-IPS-2024", title="IPS employment support – Næstved",
             provider_id=ids["naestved_ips"], currency="DKK", intervention=ips,
             terms=_terms(ids, [("naestved", 7000), ("fund", 3000)],
                          ("2024-01-01", "2026-12-31"), ("2024-01-01", "2025-09-30"),
                          "2027-06-30", 4_000_000, [
                              _ips_line("ips_employment", 30_000, 100, dict(
                                  kind="historical", rate_bp=2000,
                                  source="Næstved Jobcenter: share of the target group in "
                                         "work or education within 12 months, 2021-2023.")),
                              dict(code="fit", metric_code="fit_for_work",
                                   price=_money(8_000),
                                   window={"start_day": 0, "end_day": 540})])),
        dict(reference="ODS-IPS-2025", title="IPS employment support – Odsherred (pilot)",
             provider_id=ids["odsherred_ips"], currency="DKK", intervention=ips,
             # A new provider: the commissioner checks every claim of the pilot.
             terms=_terms(ids, [("odsherred", 10_000)], ("2025-05-01", "2027-09-30"),
                          ("2025-05-01", "2026-12-31"), "2028-03-31", 1_500_000,
                          [_ips_line("ips_employment", 30_000, 20, dict(
                              kind="historical", rate_bp=2000,
                              source="Odsherred Jobcenter: share of the target group in work "
                                     "or education within 12 months, 2022-2024."))],
                          sampling_bp=10_000)),
        dict(reference="ROS-UNGEBOLIG-2024", title="Youth housing – Roskilde, second round",
             provider_id=ids["ungebolig"], currency="DKK", intervention=housing,
             terms=_terms(ids, [("roskilde", 7000), ("fund", 3000)],
                          ("2024-01-01", "2026-12-31"), ("2024-01-01", "2025-12-31"),
                          "2027-06-30", 12_000_000, [
                              *_housing_lines(15_000, 25_000, 160, dict(
                                  kind="historical", rate_bp=3500,
                                  source="Roskilde Kommune's youth team: share of homeless "
                                         "18-29-year-olds in a tenancy of their own within "
                                         "9 months, 2019-2021.")),
                              # The fund's bonus when half the 2024 cohort has a home.
                              dict(code="cohort-2024", metric_code="housing_entry",
                                   kind="cohort", price=_money(3_000), cohort="2024",
                                   evaluation_on="2025-12-31", cohort_threshold_bp=5000)])),
        dict(reference="KOGE-UNGEBOLIG-2024", title="Youth housing – Køge",
             provider_id=ids["bovidere"], currency="DKK", intervention=housing,
             terms=_terms(ids, [("koege", 10_000)], ("2024-04-01", "2026-12-31"),
                          ("2024-04-01", "2025-12-31"), "2027-06-30", 5_500_000,
                          _housing_lines(16_000, 24_000, 100, dict(
                              kind="comparison_group", rate_bp=3200, n=198,
                              source="Køge Kommune's comparison group: young homeless people "
                                     "given the ordinary housing support (SEL § 85) in "
                                     "2021-2023.")),
                          sampling_bp=1500)),
    ]


# The histories ------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """What one site's provider enrols and claims."""

    participants: list[ParticipantIn]
    claims: list[ClaimIn]


def _pick(rng: random.Random, ages: tuple[tuple[str, float, float], ...]
          ) -> tuple[str, float]:
    u, acc = rng.random(), 0.0
    for band, share, factor in ages:
        acc += share
        if u < acc:
            return band, factor
    return ages[-1][0], ages[-1][2]


def _enrolment_day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A day between start and end, fewer in the first quarter (the service ramps up)."""
    span = (end - start).days
    while True:
        day = rng.randrange(span + 1)
        if day >= 90 or rng.random() < 0.5:
            return start + dt.timedelta(days=day)


def history(site: Site, seed: int = SEED, until: dt.date = AS_OF) -> History:
    """The participants and claims of `site`, drawn from `seed` (pure)."""
    rng = random.Random(f"{seed}/{site.reference}")  # noqa: S311 - a reproducible demo
    enrolled = sorted(_enrolment_day(rng, site.enrol_from, min(site.enrol_to, until))
                      for _ in range(site.participants))
    last = min(until, site.service_end)
    people, claims = [], []
    for n, on in enumerate(enrolled, start=site.first):
        pseudonym = f"{site.prefix}-{n:04d}"
        band, factor = _pick(rng, site.ages)
        people.append(ParticipantIn(pseudonym=pseudonym, enrolled_on=on, age_band=band,
                                    area=rng.choice(site.areas), cohort=str(on.year)))
        achieved: dict[str, dt.date] = {}
        for k, o in enumerate(site.outcomes):
            # Every draw is taken whatever happens, so one outcome never shifts another's.
            hit = rng.random() < o.rate * (factor if k == 0 else 1.0)
            days = round(rng.triangular(o.low, o.high, o.mode))
            value = rng.randint(*o.value) if o.value else None
            anchor = achieved.get(o.after) if o.after else on
            if not hit or anchor is None or (o.unless and o.unless in achieved):
                continue
            when = anchor + dt.timedelta(days=days)
            if when > last:
                continue
            achieved[o.metric] = when
            claims.append(ClaimIn(client_ref=f"{pseudonym.lower()}-{o.tag}",
                                  pseudonym=pseudonym, metric_code=o.metric,
                                  achieved_on=when, value=value,
                                  evidence_ref=f"{o.tag}-evidence-{pseudonym.lower()}"))
    claims.sort(key=lambda c: (c.achieved_on, c.client_ref))
    return History(participants=people, claims=claims)


def plan(seed: int = SEED) -> dict[str, History]:
    return {site.reference: history(site, seed) for site in SITES}


# Loading ------------------------------------------------------------------------------------


def _quarter(day: dt.date) -> str:
    return f"{day.year}q{(day.month - 1) // 3 + 1}"


def _batches(rows: list, day) -> dict[str, list]:
    """Rows by the quarter of `day(row)`: the batches the provider sent."""
    out: dict[str, list] = {}
    for row in rows:
        out.setdefault(_quarter(day(row)), []).append(row)
    return out


async def _submit(provider: Principal, cid: UUID, kind: str, key: str, rows: list):
    sub = intake.Submission(principal=provider, contract_id=cid, kind=kind,
                            idempotency_key=key, body_hash=key)
    submit = intake.submit_participants if kind == "participants" else intake.submit_claims
    report, _ = await submit(sub, [(i, r, []) for i, r in enumerate(rows, start=1)])
    refused = [r for r in report.results if r.status == "rejected"]
    if refused:
        raise RuntimeError(f"demo {kind} refused: {refused[0]}")
    return report


async def load(ids: dict[str, str], users: dict[str, str],
               checkers: dict[str, str] | None = None, seed: int = SEED) -> None:
    """Enrol, claim, verify, approve and pay the histories of every site. `users`: the
    demo user who acts for each commissioning organisation (by id); `checkers`: the one who
    approves its payment runs, where it has a second (else a stand-in checker)."""
    histories = plan(seed)
    by_ref = {r["reference"]: r["id"] for r in await Contract.select(Contract.id,
                                                                     Contract.reference)}
    for site in SITES:
        cid = by_ref[site.reference]
        lead = (await contracts_service.commissioner_ids(cid))[0]
        boss = Principal(organisation_id=lead, role="commissioner",
                         label=f"user:{users[str(lead)]}")
        checker = (checkers or {}).get(str(lead))
        checker_label = f"user:{checker}" if checker else "demo: checker"
        provider = Principal(organisation_id=UUID(ids[site.provider]), role="provider",
                             label="demo")
        await _deliver(site, histories[site.reference], cid, boss, provider,
                       msgspec.structs.replace(boss, label=checker_label))


async def _deliver(site: Site, h: History, cid: UUID, boss: Principal,
                   provider: Principal, checker: Principal) -> None:
    tag = site.prefix.lower()
    for quarter, rows in _batches(h.participants, lambda p: p.enrolled_on).items():
        await _submit(provider, cid, "participants", f"demo-{tag}-enrol-{quarter}", rows)
    ids: dict[str, UUID] = {}
    for quarter, rows in _batches(h.claims, lambda c: c.achieved_on).items():
        report = await _submit(provider, cid, "claims", f"demo-{tag}-claims-{quarter}", rows)
        ids.update({r.ref: r.id for r in report.results})
    if not ids:
        return
    # One verification sample: the commissioner verifies what was drawn, and disputes the
    # site's first claims where every claim is drawn (see Site.disputes).
    draw = await verification.draw_sample(boss, cid, f"demo-{tag}-{AS_OF.isoformat()}")
    doubted = {ids[c.client_ref] for c in h.claims[:site.disputes]}
    disputed = set()
    for claim_id in draw.selected_claim_ids:
        if claim_id in doubted:
            disputed.add(claim_id)
            await verification.decide(boss, claim_id, "dispute",
                                      "the employer's letter does not name the hours")
        else:
            await verification.decide(boss, claim_id, "verify", "register extract checked")
    due = [ids[c.client_ref] for c in h.claims
           if c.achieved_on <= APPROVED_UNTIL and ids[c.client_ref] not in disputed]
    if due:
        await verification.approve(boss, cid, due, f"achieved by {APPROVED_UNTIL}")
    if site.cohort_line:
        await cohorts.evaluate(boss, cid, site.cohort_line)
    for year in PAID_YEARS:
        key = f"demo-{tag}-run-{year}"
        try:
            run, _ = await payments.create_run(boss, cid, PaymentRunIn(
                period_from=dt.date(year, 1, 1), period_to=dt.date(year, 12, 31)), key, key)
        except Conflict as exc:
            if exc.code != "nothing_to_pay":
                raise
            continue
        # Maker and checker: a second person approves the run.
        await payments.approve_run(checker, run.id)
        await payments.pay_run(boss, run.id)
