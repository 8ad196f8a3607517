"""Open-data exports as a publisher and their readers meet them, on SQLite and PostgreSQL:
every export of every demo contract validates against the standards' schemas (OCDS 1.1.5
with the metrics extension, INDIGO 4.1, 360Giving), a broken one is caught, a private part
never leaves, a figure about fewer than k people is in no public export, the public reads
them without signing in, and a contract exported to INDIGO comes back through the reference
library's importer with its metrics and prices.

The demo is loaded once per engine (about 15 s) with every part of every contract
published; each test gets its own copy of that database (a file copy, or CREATE DATABASE …
TEMPLATE), so that a test may change what is published.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import httpx
import pytest

from api import demo
from contracts import directory
from contracts.errors import Conflict
from contracts.identity import Principal
from contracts.service import commissioner_ids
from contracts.tables import Contract
from core.database import bind, make_engine
from ledger.balances import contract_balance
from opendata import exports, publication, validate
from opendata.facts import encode
from outcomes.tables import PaymentRun
from tests.conftest import PG_URL, _with_db, run_in_thread
from tests.effect_data import contract as effect_contract
from tests.effect_data import metric, people
from tests.helpers import org, principal

try:
    validate.schemas_dir()
    SCHEMAS = None
except validate.SchemasMissing as exc:  # pragma: no cover - depends on the machine
    SCHEMAS = str(exc)
needs_schemas = pytest.mark.skipif(SCHEMAS is not None, reason=f"no schemas: {SCHEMAS}")

VIRKER = str(Path(sys.executable).parent / "virker")
ALL = {part: "public" for part in publication.PARTS}


def _doc(document: dict) -> dict:
    """An export as a reader gets it: the JSON Virker writes, parsed back."""
    return json.loads(encode(document))


async def _publish_everything() -> None:
    for row in await Contract.select(Contract.id):
        commissioner = (await commissioner_ids(row["id"]))[0]
        await publication.decide(principal(commissioner, "commissioner"), row["id"],
                                 publication.PublicationIn(parts=ALL))


# The demo, once per engine --------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def demo_template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A database with the demo loaded and everything published: a file (SQLite) or a
    database to copy (PostgreSQL)."""
    kind = request.param

    async def load(url: str) -> None:
        bind(make_engine(url))
        await demo.load_demo()
        await _publish_everything()

    if kind == "sqlite":
        path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        run_in_thread(lambda: load(f"sqlite:///{path}"))
        yield SimpleNamespace(kind=kind, path=path)
        return
    template = request.getfixturevalue("pg_template")
    name = f"virker_demo_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def sql(statement: str) -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    run_in_thread(lambda: sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    run_in_thread(lambda: load(_with_db(PG_URL, name)))
    yield SimpleNamespace(kind=kind, name=name)
    run_in_thread(lambda: sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def world(demo_template, tmp_path: Path):
    """A copy of the demo, bound, with its contracts by reference."""
    if demo_template.kind == "sqlite":
        path = tmp_path / "demo.sqlite"
        shutil.copy(demo_template.path, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        bind(engine)
        name = None
    else:
        name = f"virker_test_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{demo_template.name}"')
        finally:
            await conn.close()
        url = _with_db(PG_URL, name)
        engine = make_engine(url)
        bind(engine)
    refs = {r["reference"]: r["id"] for r in await Contract.select(Contract.reference,
                                                                   Contract.id)}
    try:
        yield SimpleNamespace(url=url, engine=engine, kind=demo_template.kind, ids=refs)
    finally:
        if name:
            if engine.pool is not None:
                await engine.close_connection_pool()
            conn = await asyncpg.connect(PG_URL)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()


@pytest.fixture
async def client(world):
    from api.app import create_app
    from core.settings import Settings

    settings = Settings.from_env({"VIRKER_DATABASE_URL": world.url,
                                  "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"]})
    app = create_app(settings, world.engine, manage_pool=False)
    if world.kind == "postgres":
        await world.engine.start_connection_pool(min_size=1, max_size=4)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


def _key(org_key: str) -> dict:
    return {"Authorization": f"Bearer vk_demo_{org_key}_key"}


async def _as(identifier: str, role: str) -> Principal:
    found = await directory.find_organisation(identifier)
    return Principal(organisation_id=found.id, role=role, label=f"test:{role}")


HOLBAEK = "DK-CVR-90000004"
FUND = "DK-CVR-90000005"


# Every export validates ------------------------------------------------------------------


@needs_schemas
async def test_every_export_of_every_demo_contract_validates(world):
    with_grants = set()
    for reference, contract_id in sorted(world.ids.items()):
        for fmt in exports.FORMATS:
            try:
                document = _doc(await exports.public_export(fmt, contract_id))
            except Conflict as refused:
                # 360Giving has nothing to say of a contract no fund pays for.
                assert fmt == "360giving" and refused.code == "no_grants", reference
                continue
            problems = validate.VALIDATORS[fmt](document)
            assert problems == [], f"{reference} {fmt}: " + "; ".join(map(str, problems))
            if fmt == "360giving":
                with_grants.add(reference)
    # Den Sociale Investeringsfond co-commissions these; Rudersdal pays for POJ-0267 alone.
    assert {"INDIGO-POJ-0263", "INDIGO-POJ-0313"} <= with_grants
    assert "INDIGO-POJ-0267" not in with_grants
    for fmt in exports.FORMATS:
        everything = _doc(await exports.public_export(fmt))
        assert validate.VALIDATORS[fmt](everything) == [], fmt
    ocds = _doc(await exports.public_export("ocds"))
    assert len(ocds["releases"]) == len(world.ids)


@needs_schemas
async def test_the_exports_say_what_the_contract_and_the_journal_say(world):
    """POJ-0313: the cap, the prices, the target, the milestones and the payments exactly
    as agreed and as the journal booked them, in kroner."""
    cid = world.ids["INDIGO-POJ-0313"]
    release = _doc(await exports.public_export("ocds", cid))["releases"][0]
    contract = release["contracts"][0]
    assert contract["value"] == {"amount": 6_900_000, "currency": "DKK"}
    assert release["planning"]["budget"]["amount"]["amount"] == 6_900_000
    assert {i["id"]: i["unit"]["value"]["amount"] for i in contract["items"]} == {
        "job": 35_000, "own-business": 35_000, "fit": 10_000, "wellbeing": 5_000}
    target = contract["agreedMetrics"][0]["observations"][0]
    assert (contract["agreedMetrics"][0]["id"], target["measure"]) == ("job", 110)
    assert {m["id"] for m in contract["milestones"]} == {"enrolment-end", "claims-deadline"}
    roles = {p["id"]: p["roles"] for p in release["parties"]}
    assert roles[HOLBAEK] == ["buyer", "payer"] and "funder" in roles[FUND]
    assert roles["DK-CVR-90000008"] == ["supplier", "payee"]
    assert roles["DK-CVR-90000009"] == ["reviewBody"]

    transactions = contract["implementation"]["transactions"]
    paid = (await contract_balance(cid, "DKK", dt.date(2100, 1, 1))).paid
    assert paid > 0
    assert sum(Decimal(str(t["value"]["amount"])) for t in transactions) * 100 == paid
    runs = await PaymentRun.select(PaymentRun.id).where(
        (PaymentRun.contract == cid) & (PaymentRun.status == "paid"))
    assert {t["id"].rsplit("-DK-CVR-", 1)[0] for t in transactions} == \
        {str(r["id"]) for r in runs}
    assert {t["payer"]["id"] for t in transactions} == {HOLBAEK, FUND}

    project = _doc(await exports.public_export("indigo", cid))
    commitments = {c["organisation_id"]["value"]:
                   c["maximum_potential_outcome_payment"]["amount"]["value"]
                   for c in project["data"]["outcome_payment_commitments"]}
    assert commitments == {HOLBAEK: 4_140_000, FUND: 2_760_000}  # 60 % and 40 % of the cap
    actual = [p for p in project["data"]["outcome_payments"] if p["type"]["value"] == "Actual"]
    assert sum(Decimal(str(p["money"]["amount"]["value"])) for p in actual) * 100 == paid

    grant = _doc(await exports.public_export("360giving", cid))["grants"][0]
    assert (grant["fundingOrganization"][0]["id"], grant["amountAwarded"],
            grant["currency"]) == (FUND, 2_760_000, "DKK")
    assert grant["id"] in [g["grant_id"] for g in project["data"]["360giving_datas"]]


# A broken export is caught ---------------------------------------------------------------


@needs_schemas
async def test_a_deliberately_broken_export_is_caught(world):
    cid = world.ids["INDIGO-POJ-0313"]
    package = _doc(await exports.public_export("ocds", cid))
    contract = package["releases"][0]["contracts"][0]
    contract["implementation"]["metrics"][0]["observations"][0]["measure"] = ["96"]
    del contract["implementation"]["transactions"][0]["value"]["currency"]
    found = {p.path: p.message for p in validate.validate_ocds(package)}
    assert found == {
        "releases[0].contracts[0].implementation.metrics[0].observations[0].measure":
            "['96'] is not of type 'string', 'number', 'null'",
        "releases[0].contracts[0].implementation.transactions[0].value":
            "an amount without its currency"}

    project = _doc(await exports.public_export("indigo", cid))
    project["data"]["dates"]["start_date_of_service_provision"]["value"] = "June 2020"
    pricing = project["data"]["outcome_pricings"][0]
    del pricing["currency"]
    pricing["price_per_unit"]["amount"]["value"] = "35.000 kr."
    found = {str(p) for p in validate.validate_indigo(project)}
    assert "data.dates.start_date_of_service_provision.value: 'June 2020' is not a full ISO " \
           "8601 date (YYYY-MM-DD)" in found
    assert "data.outcome_pricings[0].price_per_unit.amount.value: '35.000 kr.' is not of " \
           "type 'number'" in found

    grants = _doc(await exports.public_export("360giving", cid))
    del grants["grants"][0]["currency"]
    assert [str(p) for p in validate.validate_360giving(grants)] == [
        "grants[0]: fits none of the forms the standard allows: 'currency' is a required "
        "property"]


# Nothing private leaves ------------------------------------------------------------------


async def _texts(cid) -> dict[str, str]:
    out = {}
    for fmt in exports.FORMATS:
        out[fmt] = encode(await exports.public_export(fmt, cid)).decode()
        out[f"{fmt} (all)"] = encode(await exports.public_export(fmt)).decode()
    return out


async def test_a_private_part_never_appears_in_an_export(world, client):
    cid = world.ids["INDIGO-POJ-0313"]
    holbaek = await _as(HOLBAEK, "commissioner")
    await publication.decide(holbaek, cid, publication.PublicationIn(parts={
        "rate_card": "private", "targets": "private", "payments": "private"}))
    runs = [str(r["id"]) for r in await PaymentRun.select(PaymentRun.id).where(
        PaymentRun.contract == cid)]
    assert runs
    # A contract made private as a whole is in no export at all.
    hidden = world.ids["INDIGO-POJ-0267"]
    await publication.decide(await _as("DK-CVR-90000003", "commissioner"), hidden,
                             publication.PublicationIn(parts={"contract": "private"}))

    texts = await _texts(cid)
    r = await client.get(f"/api/v1/contracts/{cid}/exports/ocds.json", headers=_key("ips"))
    assert r.status_code == 200
    texts["ocds (provider)"] = r.text
    for name, text in texts.items():
        # The rate card's price and units, the baseline's source and the payment runs.
        own = [] if "(all)" in name else ["35000.00", "WEMWBS points"]
        for secret in [*own, "matched comparison group", *runs]:
            assert secret not in text, f"{secret} in {name}"
        assert str(hidden) not in text and "Treatment of stress" not in text, name
    release = json.loads(texts["ocds"])["releases"][0]["contracts"][0]
    assert "items" not in release and "agreedMetrics" not in release
    assert "transactions" not in release["implementation"]  # the results are still public
    project = json.loads(texts["indigo"])["data"]
    assert "outcome_pricings" not in project and "outcome_payments" not in project
    assert all("total_outcome_payments" not in c
               for c in project["outcome_payment_commitments"])
    assert "amountDisbursed" not in json.loads(texts["360giving"])["grants"][0]

    # The contract's commissioner may take every part, for its own use; no other party may.
    r = await client.get(f"/api/v1/contracts/{cid}/exports/ocds.json",
                         params={"include": "private"}, headers=_key("holbaek"))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "WEMWBS points" in r.text and runs[0] in r.text
    r = await client.get(f"/api/v1/contracts/{cid}/exports/indigo.json",
                         params={"include": "private"}, headers=_key("ips"))
    assert (r.status_code, r.json()["code"]) == (403, "commissioner_only")
    r = await client.get(f"/api/v1/contracts/{hidden}/exports/ocds.json",
                         headers=_key("rudersdal"))
    assert (r.status_code, r.json()["code"]) == (409, "not_published")


# Suppression -----------------------------------------------------------------------------


async def test_a_result_about_fewer_than_five_people_is_in_no_public_export(db):
    """A contract whose first quarter enrolled 30 and whose second enrolled 3: the second
    quarter is hidden, and so is a second figure, for the total less the first quarter
    would give the second back. The contract's own parties see every figure in Virker; an
    export, whoever takes it, carries the suppressed ones only."""
    await metric("employment")
    commissioner, provider = await org("municipality"), await org("ngo")
    cid = await effect_contract(commissioner, provider, "employment")
    await people(cid, n=30, achieved=12, enrolled_on=dt.date(2024, 2, 1),
                 metric_code="employment", status="approved")
    await people(cid, n=3, achieved=2, enrolled_on=dt.date(2024, 5, 1),
                 metric_code="employment", status="approved")
    await publication.decide(principal(commissioner, "commissioner"), cid,
                             publication.PublicationIn(parts=ALL))

    for include_private in (False, True):
        if include_private:
            document = await exports.contract_export(principal(commissioner, "commissioner"),
                                                     cid, "ocds", include_private=True)
        else:
            document = await exports.public_export("ocds", cid)
        metrics = _doc(document)["releases"][0]["contracts"][0]["implementation"]["metrics"]
        observations = {o["id"]: o for o in metrics[0]["observations"]}
        second = [o for key, o in observations.items() if key.startswith("outcome-2024Q2")]
        assert len(second) == 3 and all("measure" not in o for o in second)
        assert all("suppressed" in o["notes"] for o in second)
        first, total = (observations[f"outcome-{key}-achieved"] for key in ("2024Q1", "total"))
        assert "measure" not in first or "measure" not in total  # no subtraction gives it
        assert not [o for o in observations.values() if o.get("measure") in (2, 3)]

    project = _doc(await exports.public_export("indigo", cid))["data"]
    second = [r for r in project["results"] if "2024Q2" in r["notes"]]
    assert second and all("number_with_positive_social_outcomes" not in r and
                          "number_engaged_in_impact_bond" not in r for r in second)


def test_exports_suppress_every_contract_exactly_as_the_effect_service_does():
    """`opendata.facts.suppressed_units` suppresses many contracts in one go; for each
    contract and line it hides exactly what the effect service hides for an outsider
    (`effect.service._suppressed_tables`), on counts made to be awkward: small cells in
    every breakdown, a partnership's provider breakdown, a line nobody enrolled on."""
    import numpy as np
    import pandas as pd

    from effect import service as effect_service
    from effect.queries import COUNT_COLUMNS, DIMENSIONS
    from opendata.facts import suppressed_units

    rng = np.random.default_rng(14)
    grain = []
    for contract in ("a", "b", "c"):
        for line in ("one", "two"):
            for i in range(12):
                enrolled = int(rng.choice([1, 2, 3, 4, 6, 9, 20, 40]))
                observed = int(rng.integers(0, enrolled + 1))
                achieved = int(rng.integers(0, observed + 1))
                grain.append({
                    "contract": contract, "line": line, "age_band": "18-29" if i % 2 else "",
                    "area": f"area {i % 3}", "cohort": "", "quarter": f"2024Q{i % 4 + 1}",
                    "provider": f"p{i % 2}", "enrolled": enrolled, "observed": observed,
                    "achieved": achieved, "achieved_any": achieved, "accrued": achieved * 100,
                    "paid": achieved * 100, "paid_people": achieved,
                    "paid_observed": achieved * 100})
    grain = pd.DataFrame(grain, columns=list(COUNT_COLUMNS))
    lines = pd.DataFrame([{"contract": c, "line": li, "order": i, "target": np.nan,
                           "baseline_bp": np.nan, "baseline_n": np.nan}
                          for c in ("a", "b", "c") for i, li in enumerate(("one", "two",
                                                                           "none"))])
    rows = effect_service.table(grain, lines, DIMENSIONS)
    mine = suppressed_units(rows, 5, partnered={"b"})
    columns = ["dimension", "value", "enrolled", "observed", "achieved", "rate", "paid",
               "suppressed"]
    for (contract, line), unit in rows.groupby(["contract", "line"]):
        if contract != "b":
            unit = unit[unit["dimension"] != "provider"]
        theirs = effect_service._suppressed_tables(unit, 5)
        ours = mine[(mine["contract"] == contract) & (mine["line"] == line)]
        key = ["dimension", "value"]
        pd.testing.assert_frame_equal(
            ours[columns].sort_values(key).reset_index(drop=True).astype(object),
            theirs[columns].sort_values(key).reset_index(drop=True).astype(object),
            obj=f"{contract}/{line}")
    assert mine["suppressed"].any() and not mine["suppressed"].all()


# The public reads without signing in -----------------------------------------------------


@needs_schemas
async def test_the_public_reads_open_data_without_an_account(world, client):
    r = await client.get("/api/v1/open-data/ocds.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert validate.validate_ocds(body) == []
    assert body["uri"] == "http://testserver.local/api/v1/open-data/ocds.json"
    assert body["publisher"] == {"name": "Virker drift"}
    assert len(body["releases"]) == len(world.ids)
    for fmt, path in exports.FILES.items():
        r = await client.get(f"/api/v1/open-data/{path}")
        assert r.status_code == 200 and validate.VALIDATORS[fmt](r.json()) == [], fmt

    cid = world.ids["INDIGO-POJ-0267"]
    r = await client.get(f"/api/v1/open-data/contracts/{cid}/360giving.json")
    assert (r.status_code, r.json()["code"]) == (409, "no_grants")
    r = await client.get(f"/api/v1/open-data/contracts/{cid}/indigo.json")
    assert r.status_code == 200 and validate.validate_indigo(r.json()) == []
    await publication.decide(await _as("DK-CVR-90000003", "commissioner"), cid,
                             publication.PublicationIn(parts={"contract": "private"}))
    r = await client.get(f"/api/v1/open-data/contracts/{cid}/ocds.json")
    assert (r.status_code, r.json()["code"]) == (404, "contract_not_found")
    r = await client.get(f"/api/v1/contracts/{cid}/exports/ocds.json",
                         headers=_key("holbaek"))
    assert r.status_code == 404  # not Holbæk's contract: it does not exist for Holbæk

    for row in await Contract.select(Contract.id):
        commissioner = (await commissioner_ids(row["id"]))[0]
        await publication.decide(principal(commissioner, "commissioner"), row["id"],
                                 publication.PublicationIn(parts={"contract": "private"}))
    r = await client.get("/api/v1/open-data/indigo.json")
    assert (r.status_code, r.json()["code"]) == (409, "nothing_published")


# The command line ------------------------------------------------------------------------


def virker(*args: str, url: str) -> subprocess.CompletedProcess:
    return subprocess.run([VIRKER, *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "VIRKER_DATABASE_URL": url}, check=False)


@needs_schemas
async def test_the_command_line_exports_and_validates(world, tmp_path: Path):
    out = tmp_path / "ocds.json"
    done = await asyncio.to_thread(virker, "export-ocds", "--all-public", "--validate",
                                   "--out", str(out), url=world.url)
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stderr and done.stdout == ""
    assert len(json.loads(out.read_text())["releases"]) == len(world.ids)

    done = await asyncio.to_thread(virker, "export-indigo", "--contract", "INDIGO-POJ-0313",
                                   url=world.url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"]["alternative_names"]["value"] == "INDIGO-POJ-0313"

    done = await asyncio.to_thread(virker, "export-360giving", "--contract", "INDIGO-POJ-0267",
                                   url=world.url)
    assert done.returncode == 1 and "[no_grants]" in done.stderr and done.stdout == ""


# Round trip ------------------------------------------------------------------------------


async def test_a_contract_exported_to_indigo_and_imported_keeps_its_metrics_and_prices(
        world, tmp_path: Path):
    indigo = pytest.importorskip("opendata.indigo", reason="the INDIGO importer is not here")
    from opendata.tables import ReferenceMetric, ReferencePrice, ReferenceProject

    cid = world.ids["INDIGO-POJ-0313"]
    path = tmp_path / "poj-0313.json"
    path.write_bytes(encode(await exports.public_export("indigo", cid)))
    report = await indigo.import_indigo(path)
    assert (report.loaded, report.skipped) == (1, 0)

    project = await ReferenceProject.select().where(
        ReferenceProject.code == f"ocds-virker-{cid}").first()
    assert project["name"] == "Employment for mentally vulnerable citizens – Holbæk"
    assert (project["currency"], project["max_outcome_payment"]) == ("DKK", 690_000_000)
    metrics = {m["metric_id"]: m for m in await ReferenceMetric.select().where(
        ReferenceMetric.project == project["id"])}
    assert set(metrics) == {"job", "own-business", "fit", "wellbeing"}
    assert "Ordinary or subsidised employment of at least 10 hours a week" in \
        metrics["job"]["definition"]
    assert metrics["job"]["validation_method"] == "eIndkomst register extract"
    assert "110" in metrics["job"]["target"]
    prices = {p["metric_id"]: (p["amount"], p["currency"]) for p in
              await ReferencePrice.select().where(ReferencePrice.project == project["id"])}
    assert prices == {"job": (3_500_000, "DKK"), "own-business": (3_500_000, "DKK"),
                      "fit": (1_000_000, "DKK"), "wellbeing": (500_000, "DKK")}

    again = await indigo.import_indigo(path)
    assert (again.unchanged, again.changed, again.new) == (1, 0, 0)
