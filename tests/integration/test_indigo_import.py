"""The reference library's import: the full INDIGO dataset (319 real outcome contracts) loads,
with its metrics, prices in minor units of their own currency, payers, results and payments;
loading it again changes nothing; a changed project is replaced and a broken value reported
without stopping the import; a project is read again when an organisation it names changes,
not when its rows move in their files; INDIGO 4.1 project JSON (as Virker exports it) loads
the same way; and `virker import-indigo` says what it did."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from contracts.errors import Malformed
from opendata.indigo import import_indigo
from opendata.tables import ReferenceImport, ReferenceMetric, ReferencePrice, ReferenceProject
from tests.integration.test_cli import virker

INDIGO = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "indigo"
pytestmark = pytest.mark.skipif(not (INDIGO / "projects.csv").exists(),
                                reason=f"the INDIGO dataset is not at {INDIGO}")
DANISH = [f"INDIGO-POJ-{n:04d}" for n in [*range(261, 271), 312, 313, 314]]


async def project(code: str) -> dict:
    row = await ReferenceProject.select().where(ReferenceProject.code == code).first()
    return {**row, "data": json.loads(row["data"])}


async def metrics(code: str) -> list[dict]:
    return await ReferenceMetric.select().where(ReferenceMetric.project.code == code) \
        .order_by(ReferenceMetric.metric_id)


async def prices(code: str) -> dict[str, dict]:
    rows = await ReferencePrice.select().where(ReferencePrice.project.code == code)
    return {r["metric_id"]: r for r in rows}


async def every_row() -> dict[str, list[dict]]:
    return {t._meta.tablename: await t.select().order_by(t.id)
            for t in (ReferenceProject, ReferenceMetric, ReferencePrice)}


def copy_of_dataset(folder: Path, codes: list[str] | None = None) -> Path:
    """The dataset's CSVs in `folder`, only the projects `codes` if given."""
    folder.mkdir(exist_ok=True)
    for source in INDIGO.glob("*.csv"):
        if codes is None or not source.name.startswith("projects"):
            shutil.copy(source, folder / source.name)
            continue
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
        key = "ID" if source.name == "projects.csv" else "Project ID"
        frame[frame[key].isin(codes)].to_csv(folder / source.name, index=False)
    return folder


async def test_the_full_dataset_loads_every_project_with_its_metrics_prices_and_results(db):
    report = await import_indigo(INDIGO)
    assert (report.projects, report.loaded, report.new, report.unchanged, report.skipped) == \
        (319, 319, 319, 0, 0)
    assert await ReferenceProject.count() == 319
    # Every outcome definition but the one row without an Id, every price.
    assert (report.metrics, report.prices) == (1407, 385)
    assert await ReferenceMetric.count() == 1407 and await ReferencePrice.count() == 385
    assert report.sources == [
        "Government Outcomes Lab, INDIGO Impact Bond Dataset v2, data pulled 2025-05-20"]

    # Holbæk's IPS contract: Danish, its three outcomes, its investment in øre.
    holbaek = await project("INDIGO-POJ-0313")
    assert holbaek["country"] == "DK" and holbaek["currency"] == "DKK"
    assert holbaek["policy_sectors"] == "Employment and training; Health"
    assert (holbaek["start_text"], holbaek["start_on"]) == ("2024-01", dt.date(2024, 1, 1))
    assert (holbaek["end_text"], holbaek["end_on"]) == ("2026-06", dt.date(2026, 6, 1))
    assert holbaek["data"]["finance"]["total_investment_commitment"] == {
        "currency": "DKK", "exact": 690000000, "usd": {"exact": "974576"}}
    assert holbaek["data"]["payers"][0]["organisations"] == [
        {"id": "INDIGO-ORG-1605", "name": "Holbæk Municipality"}]
    assert [(m["metric_id"], m["definition"].split(":")[0], m["policy_sector"])
            for m in await metrics("INDIGO-POJ-0313")] == [
        ("outcomemetric1", "Employment/Education", "Employment and training"),
        ("outcomemetric2", "Fit for work", "Employment and training"),
        ("outcomemetric3", "Well-being", "Health")]
    # The dataset prices none of the Danish contracts' outcomes (projects_outcome_pricings.csv
    # has ARS, EUR, GBP and USD only); their money is the investment and the payers' caps.
    assert await ReferencePrice.count().where(ReferencePrice.project.code.is_in(DANISH)) == 0
    # INDIGO gives none of them a jurisdiction: their names say Denmark, or their payers'
    # jurisdiction does. Only 0262 (counselling in Aarhus) has neither.
    danish = await ReferenceProject.select(ReferenceProject.code, ReferenceProject.country) \
        .where(ReferenceProject.code.is_in(DANISH))
    assert {r["code"] for r in danish if r["country"] != "DK"} == {"INDIGO-POJ-0262"}
    # The Refugee Impact Bond's payers, each in its own currency (USD here is a payer's own).
    refugees = (await project("INDIGO-POJ-0223"))["data"]["payers"]
    assert {(p["max_payment"]["currency"], p["max_payment"]["amount"]) for p in refugees} == \
        {("USD", 650000000), ("DKK", 2000000000), ("NOK", 2500000000)}

    # Buenos Aires' rate card in ARS minor units, its caps in the notes.
    buenos_aires = await prices("INDIGO-POJ-0001")
    first = buenos_aires["outcomemetric1"]
    assert (first["currency"], first["amount"], first["max_amount"]) == \
        ("ARS", 1263500, 111188000)
    assert first["notes"].startswith("Contract cap: no more than 40% of participants")
    assert "Contracted increases to outcome pricing: After the COVID-19" in first["notes"]
    assert len(buenos_aires) == 9
    ba = await project("INDIGO-POJ-0001")
    assert (ba["max_outcome_payment"], ba["currency"]) == (4840000000, "ARS")
    assert ba["data"]["dates"]["outcomes_contract_signed"] == {"text": "2018", "on": "2018-01-01"}
    assert ba["data"]["alternative_names"] == "VIS Buenos Aires"
    [ba_metric] = [m for m in await metrics("INDIGO-POJ-0001") if m["metric_id"] ==
                   "outcomemetric2"]
    assert ba_metric["validation_method"] == "Pre-post analysis"
    assert ba_metric["data_source"] == "New data collected"
    assert "Targeted number: 280 (Individual)" in ba_metric["target"]

    # Tower Hamlets' IPS: interim results per metric, quarterly planned payments, five plans.
    mhep = (await project("INDIGO-POJ-0193"))["data"]
    assert [(r["metric_id"], r["achieved"]) for r in mhep["results"]] == [
        ("outcomemetric1", "1171"), ("outcomemetric2", "358"), ("outcomemetric3", "68"),
        ("outcomemetric4", "126")]
    assert mhep["results"][0]["period"] == {"start": {"text": "2020-04", "on": "2020-04-01"},
                                            "end": {"text": "2024-03", "on": "2024-03-01"}}
    assert mhep["results"][0]["type"] == "Interim"
    assert len(mhep["outcome_payments"]["planned"]) == 108
    assert len(mhep["outcome_payments"]["actual"]) == 18
    first_planned = mhep["outcome_payments"]["planned"][0]
    assert first_planned["money"] == {"currency": "GBP", "amount": 12931000}
    assert [p["id"] for p in first_planned["payers"]] == ["INDIGO-ORG-0171", "INDIGO-ORG-1155"]
    assert mhep["outcome_payment_plans"][-1]["period"]["end"] == {"text": "current"}
    assert {p["organisations"][0]["name"]: p["max_payment"]["amount"]
            for p in mhep["payers"]} == {
        "Department for Culture, Media and Sport (DCMS)": 86896600,
        "London Borough of Tower Hamlets": 119930400}

    # What could not be read is in the report, with where it is; the run is on record.
    messages = [p.message for p in report.problems]
    assert "INDIGO-POJ-0146 (projects_outcome_metrics.csv line 851): an outcome metric " \
        "without an Id is skipped" in messages
    assert "INDIGO-POJ-0001 (projects_results.csv line 3): result period of outcomemetric2 " \
        "start: '2018-13' names no month of the calendar; kept as text" in messages
    assert "INDIGO-POJ-0059 (projects_outcome_payment_commitments.csv line 97): maximum " \
        "outcome payment of INDIGO-ORG-0720 is '=M33', not a number" in messages
    [run] = await ReferenceImport.select()
    assert (run["projects"], run["loaded"], run["unchanged"], run["skipped"]) == \
        (319, 319, 0, 0)
    assert json.loads(run["report"])["problems"][0]["message"] == messages[0]


async def test_loading_the_dataset_again_changes_nothing(db):
    await import_indigo(INDIGO)
    before = await every_row()
    again = await import_indigo(INDIGO)
    assert (again.projects, again.loaded, again.unchanged, again.skipped) == (319, 0, 319, 0)
    assert (again.metrics, again.prices) == (0, 0)
    assert await every_row() == before  # the same rows, ids, hashes and import times
    assert await ReferenceImport.count() == 2


async def test_a_changed_project_is_replaced_and_a_broken_value_reported_not_fatal(db, tmp_path):
    folder = copy_of_dataset(tmp_path / "indigo")
    await import_indigo(folder)
    before = await every_row()
    ba = await project("INDIGO-POJ-0001")
    others = {r["id"] for r in before["reference_metric"] if r["project"] != ba["id"]}

    pricings = pd.read_csv(folder / "projects_outcome_pricings.csv", dtype=str,
                           keep_default_na=False)
    price = "Price Per Unit - Amount - (Value)"
    pricings.loc[0, price] = "13000"   # outcomemetric1: 12635 ARS before
    pricings.loc[1, price] = "TBC"     # outcomemetric2: no number at all
    pricings.to_csv(folder / "projects_outcome_pricings.csv", index=False)
    with (folder / "projects.csv").open("a", encoding="utf-8", newline="") as handle:
        handle.write("," + "A project without an ID" + "," * 68 + "\r\n")

    report = await import_indigo(folder)
    assert (report.projects, report.changed, report.new, report.unchanged, report.skipped) == \
        (320, 1, 0, 318, 1)
    assert report.changed_codes == ["INDIGO-POJ-0001"]
    messages = [p.message for p in report.problems]
    assert "INDIGO-POJ-0001 (projects_outcome_pricings.csv line 3): price of outcomemetric2 " \
        "is 'TBC', not a number" in messages
    # Its line, not its record's number: quoted cells in projects.csv span lines.
    line = (INDIGO / "projects.csv").read_bytes().count(b"\n") + 1
    assert line > 321
    assert f"projects.csv line {line}: a project without an ID is skipped" in messages

    after = await project("INDIGO-POJ-0001")
    assert after["id"] == ba["id"] and after["imported_at"] > ba["imported_at"]
    assert after["content_hash"] != ba["content_hash"]
    changed = await prices("INDIGO-POJ-0001")
    assert changed["outcomemetric1"]["amount"] == 1300000
    assert "outcomemetric2" not in changed and len(changed) == 8
    assert len(await metrics("INDIGO-POJ-0001")) == 9
    rows = await every_row()
    # Only Buenos Aires' metrics and prices were written again; every other row is as it was.
    assert {r["id"] for r in rows["reference_metric"] if r["project"] != ba["id"]} == others
    assert [r for r in rows["reference_project"] if r["code"] != "INDIGO-POJ-0001"] == \
        [r for r in before["reference_project"] if r["code"] != "INDIGO-POJ-0001"]
    assert await ReferenceProject.count() == 319

    # A file that is no table at all stops the import before anything is written.
    with (folder / "projects_results.csv").open("a", encoding="utf-8", newline="") as handle:
        handle.write("INDIGO-POJ-0001" + "," * 40 + "\r\n")
    with pytest.raises(Malformed) as refused:
        await import_indigo(folder)
    line = (INDIGO / "projects_results.csv").read_bytes().count(b"\n") + 1
    assert refused.value.message == \
        f"projects_results.csv line {line}: 41 cells where the header has 15"
    assert await every_row() == rows


async def test_a_project_is_read_again_when_an_organisation_it_names_changes_not_when_it_moves(
        db, tmp_path):
    folder = copy_of_dataset(tmp_path / "danish", DANISH)
    await import_indigo(folder)
    before = await every_row()
    # One project's rows moved to the end of each file: where a row is changes nothing.
    for name in ("projects.csv", "projects_outcome_metrics.csv",
                 "projects_outcome_payment_commitments.csv"):
        frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
        mine = frame[frame.columns[0]] == "INDIGO-POJ-0261"
        pd.concat([frame[~mine], frame[mine]]).to_csv(folder / name, index=False)
    moved = await import_indigo(folder)
    assert (moved.unchanged, moved.loaded) == (13, 0)
    assert await every_row() == before

    # Holbæk's municipality renamed: the one project that names it is read again.
    orgs = pd.read_csv(folder / "organisations.csv", dtype=str, keep_default_na=False)
    orgs.loc[orgs["ID"] == "INDIGO-ORG-1605", "Name"] = "Holbæk Kommune"
    orgs.to_csv(folder / "organisations.csv", index=False)
    renamed = await import_indigo(folder)
    assert (renamed.changed_codes, renamed.unchanged) == (["INDIGO-POJ-0313"], 12)
    assert (await project("INDIGO-POJ-0313"))["data"]["payers"][0]["organisations"] == [
        {"id": "INDIGO-ORG-1605", "name": "Holbæk Kommune"}]


def indigo_json(**changes) -> dict:
    """A contract as Virker's INDIGO export writes it: {"id", "data"}, its organisations and
    publisher beside it."""
    v = {"status": "PUBLIC"}
    data = {
        "status": "PUBLIC",
        "name": {"value": "Unge i egen bolig", **v},
        "alternative_names": {"value": "RSK-2026-01", **v},
        "dates": {"start_date_of_service_provision": {"value": "2026-01-01", **v},
                  "anticipated_end_date_of_service_provision": {"value": "2028-12-31", **v}},
        "jurisdiction": {"jurisdiction": {"value": "DK", **v}},
        "overall_project_finance": {"maximum_potential_outcome_payment_v2": {
            "currency": {"value": "DKK", **v}, "amount": {"value": 4000000, **v}},
            "investor_repayment": {"value": "secret terms", "status": "PRIVATE"}},
        "outcome_payment_commitments": [{
            "status": "PUBLIC", "organisation_id": {"value": "DK-CVR-29189846", **v},
            "maximum_potential_outcome_payment": {"currency": {"value": "DKK", **v},
                                                  "amount": {"value": 4000000, **v}}}],
        "outcome_metrics": [
            {"id": "housing_entry", "status": "PUBLIC",
             "definition": {"value": "Housing entry: a lease of at least 12 months", **v},
             "outcome_validation_method": {"value": "Signed lease", **v},
             "data_source_for_outcome_validation": {"value": "Administrative data", **v},
             "policy_sector": {"value": "Homelessness", **v}},
            {"id": "housing_sustained", "status": "PUBLIC",
             "definition": {"value": "Housing sustained 12 months", **v}}],
        "outcome_pricings": [
            {"outcome_metric_id": {"value": "housing_entry", **v}, "status": "PUBLIC",
             "currency": {"value": "DKK", **v},
             "price_per_unit": {"amount": {"value": 12500.5, **v}},
             "maximum_price_if_all_targets_achieved": {"amount": {"value": "1250050", **v}},
             "price_description": {"value": "paid once per participant", **v}},
            {"outcome_metric_id": {"value": "housing_sustained", **v}, "status": "PRIVATE",
             "currency": {"value": "DKK", **v},
             "price_per_unit": {"amount": {"value": 30000, **v}}}],
        "results": [{"outcome_metric_id": {"value": "housing_entry", **v}, "status": "PUBLIC",
                     "number_engaged_in_impact_bond": {"value": 40, **v},
                     "number_with_positive_social_outcomes": {"value": 23, **v}}],
    }
    data.update(changes)
    return {"id": "ocds-virker-0f6c1e2a", "data": data,
            "organisations": [{"id": "DK-CVR-29189846", "data": {
                "name": {"value": "Roskilde Kommune", **v}, "country": {"value": "DK", **v}}}],
            "publisher": {"name": "Roskilde Kommune"}}


async def test_an_indigo_project_file_loads_as_a_reference_project(db, tmp_path):
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(indigo_json()), encoding="utf-8")
    report = await import_indigo(path)
    assert (report.projects, report.new, report.skipped, report.problems) == (1, 1, 0, [])
    assert report.sources == ["Roskilde Kommune"]
    row = await project("ocds-virker-0f6c1e2a")
    assert (row["name"], row["country"], row["currency"], row["max_outcome_payment"]) == \
        ("Unge i egen bolig", "DK", "DKK", 400000000)
    assert row["source"] == "Roskilde Kommune"
    assert row["start_on"] == dt.date(2026, 1, 1) and row["end_text"] == "2028-12-31"
    assert row["data"]["payers"][0]["organisations"] == [
        {"id": "DK-CVR-29189846", "name": "Roskilde Kommune"}]
    assert row["data"]["results"][0] | {"engaged": "40", "positive": "23"} == \
        row["data"]["results"][0]
    # A field or row marked PRIVATE is not loaded.
    assert "investor_repayment" not in row["data"]["finance"]
    assert {m["metric_id"]: m["validation_method"] for m in await metrics(row["code"])} == {
        "housing_entry": "Signed lease", "housing_sustained": ""}
    assert [(p["metric_id"], p["amount"], p["max_amount"], p["description"])
            for p in (await prices(row["code"])).values()] == [
        ("housing_entry", 1250050, 125005000, "paid once per participant")]

    again = await import_indigo(path)
    assert (again.unchanged, again.loaded) == (1, 0)
    path.write_text(json.dumps(indigo_json(name={"value": "Unge i egen bolig II"})))
    changed = await import_indigo(path)
    assert changed.changed_codes == ["ocds-virker-0f6c1e2a"]
    assert (await project("ocds-virker-0f6c1e2a"))["id"] == row["id"]


async def test_a_folder_of_project_files_loads_what_it_can_and_says_what_it_could_not(db,
                                                                                   tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(indigo_json()))
    (tmp_path / "b.json").write_text("{not json")
    nameless = indigo_json(name={"value": ""})
    nameless["id"] = "ocds-virker-nameless"
    (tmp_path / "c.json").write_text(json.dumps({"projects": [nameless, {"data": {}}]}))
    report = await import_indigo(tmp_path)
    assert (report.projects, report.loaded, report.skipped) == (3, 1, 2)
    assert [p.message for p in report.problems] == [
        "b.json: not JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
        "(char 1)); the file is skipped",
        "ocds-virker-nameless (c.json): a project without a name is skipped",
        "c.json: a project without an id is skipped"]
    assert [r["code"] for r in await ReferenceProject.select(ReferenceProject.code)] == \
        ["ocds-virker-0f6c1e2a"]


async def test_the_command_prints_what_it_loaded_and_skipped(db, tmp_path):
    folder = copy_of_dataset(tmp_path / "danish", DANISH)
    out = virker("import-indigo", str(folder), url=db.url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == (f"{folder}: 13 projects read (Government Outcomes Lab, INDIGO Impact "
                        "Bond Dataset v2, data pulled 2025-05-20)")
    assert lines[1].startswith("13 loaded (13 new, 0 changed), 0 unchanged, 0 skipped; "
                               "43 metrics and 0 prices written in ")
    assert lines[-1].startswith("import ")
    again = virker("import-indigo", str(folder), "--json", url=db.url)
    assert again.returncode == 0, again.stderr
    report = msgspec.json.decode(again.stdout)
    assert (report["projects"], report["loaded"], report["unchanged"]) == (13, 0, 13)
    assert await ReferenceImport.count() == 2
    refused = virker("import-indigo", str(folder / "projects.csv"), url=db.url)
    assert refused.returncode != 0 and refused.stdout == ""
    assert "give the folder that holds projects.csv" in refused.stderr
