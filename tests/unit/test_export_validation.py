"""The open-data validators (opendata.validate) against the standards' own schemas, read from
../shared/reference/schemas: a small valid document of each standard passes, and each kind
of mistake a publisher makes is caught with the place it is at. Skipped, saying why, where
the schemas are not beside the repository."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opendata import validate
from opendata.facts import encode, major

try:
    validate.schemas_dir()
except validate.SchemasMissing as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"the open-data schemas are missing: {exc}", allow_module_level=True)


def _json(document: dict) -> dict:
    import json

    return json.loads(encode(document))


OCDS = {
    "uri": "https://virker.example/api/v1/open-data/ocds.json", "version": "1.1",
    "publishedDate": "2026-11-26T10:00:00Z", "publisher": {"name": "Virker drift"},
    "extensions": ["https://raw.githubusercontent.com/open-contracting-extensions/"
                   "ocds_metrics_extension/master/extension.json"],
    "releases": [{
        "ocid": "ocds-virker-1", "id": "ocds-virker-1-v1", "date": "2026-11-26T10:00:00Z",
        "tag": ["contract"], "initiationType": "tender",
        "parties": [{"id": "DK-CVR-90000004", "name": "Holbæk Kommune",
                     "roles": ["buyer", "payer"]},
                    {"id": "DK-CVR-90000008", "name": "IPS", "roles": ["supplier", "payee"]}],
        "buyer": {"id": "DK-CVR-90000004", "name": "Holbæk Kommune"},
        "contracts": [{
            "id": "INDIGO-POJ-0313", "awardID": "a",
            "value": {"amount": Decimal("6900000.00"), "currency": "DKK"},
            "agreedMetrics": [{"id": "job", "observations": [
                {"id": "job-target", "measure": 110, "unit": {"name": "participant"}}]}],
            "implementation": {
                "transactions": [{"id": "run-1", "date": "2025-06-30T10:00:00Z",
                                  "value": {"amount": Decimal("3930.00"), "currency": "DKK"},
                                  "payer": {"id": "DK-CVR-90000004"},
                                  "payee": {"id": "DK-CVR-90000008"}}],
                "metrics": [{"id": "job", "observations": [
                    {"id": "job-total-achieved", "measure": 96}]}]},
        }],
    }],
}

INDIGO = {
    "id": "ocds-virker-1",
    "data": {
        "name": {"value": "Employment for mentally vulnerable citizens", "status": "PUBLIC"},
        "dates": {"start_date_of_service_provision": {"value": "2024-01-01",
                                                      "status": "PUBLIC"}},
        "jurisdiction": {"jurisdiction": {"value": "DK", "status": "PUBLIC"}},
        "overall_project_finance": {"maximum_potential_outcome_payment_v2": {
            "currency": {"value": "DKK", "status": "PUBLIC"},
            "amount": {"value": Decimal("6900000.00"), "status": "PUBLIC"}}},
        "outcome_pricings": [{"outcome_metric_id": {"value": "job", "status": "PUBLIC"},
                              "currency": {"value": "DKK", "status": "PUBLIC"},
                              "price_per_unit": {"amount": {"value": Decimal("35000.00"),
                                                            "status": "PUBLIC"}}}],
    },
    "organisations": [{"id": "DK-CVR-90000004",
                       "data": {"name": {"value": "Holbæk Kommune", "status": "PUBLIC"}}}],
}

GIVING = {
    "version": "1.4", "publisher": {"name": "Virker drift"},
    "grants": [{
        "id": "360G-virker-DK-CVR-90000005-1", "title": "IPS", "description": "Outcomes",
        "currency": "DKK", "amountAwarded": Decimal("2760000.00"), "awardDate": "2024-01-01",
        "plannedDates": [{"startDate": "2024-01-01", "endDate": "2026-12-31"}],
        "recipientOrganization": [{"id": "DK-CVR-90000008", "name": "IPS"}],
        "fundingOrganization": [{"id": "DK-CVR-90000005", "name": "Den Sociale "
                                                                  "Investeringsfond"}],
    }],
}


def test_well_formed_documents_of_each_standard_pass():
    assert validate.validate_ocds(_json(OCDS)) == []
    assert validate.validate_indigo(_json(INDIGO)) == []
    assert validate.validate_360giving(_json(GIVING)) == []


def test_the_metrics_extension_is_applied_to_the_release_schema():
    """Without the extension a metric's observation would be free-form: with it, a measure
    is text or a number, and an observation must have an id."""
    doc = _json(OCDS)
    contract = doc["releases"][0]["contracts"][0]
    contract["agreedMetrics"][0]["observations"][0]["measure"] = True
    contract["implementation"]["metrics"][0]["observations"][0].pop("id")
    found = {p.path: p.message for p in validate.validate_ocds(doc)}
    assert "True is not of type 'string', 'number', 'null'" in found[
        "releases[0].contracts[0].agreedMetrics[0].observations[0].measure"]
    assert "'id' is a required property" in found[
        "releases[0].contracts[0].implementation.metrics[0].observations[0]"]


def test_an_amount_without_its_currency_is_caught():
    doc = _json(OCDS)
    doc["releases"][0]["contracts"][0]["implementation"]["transactions"][0]["value"].pop(
        "currency")
    assert [str(p) for p in validate.validate_ocds(doc)] == [
        "releases[0].contracts[0].implementation.transactions[0].value: an amount without "
        "its currency"]


def test_an_ocds_date_must_be_a_date_time_and_a_party_must_be_named():
    doc = _json(OCDS)
    release = doc["releases"][0]
    release["date"] = "26/11/2026"
    release["contracts"][0]["implementation"]["transactions"][0]["payee"]["id"] = "DK-CVR-1"
    found = {p.path: p.message for p in validate.validate_ocds(doc)}
    assert found["releases[0].date"] == "'26/11/2026' is not a 'date-time'"
    assert "not among the release's parties" in found[
        "releases[0].contracts[0].implementation.transactions[0].payee"]


@pytest.mark.parametrize("day", ["June 2020", "2020", "2020-06", "2020-02-30"])
def test_an_indigo_date_is_a_full_iso_date(day):
    """INDIGO's own pattern takes a year or a month, but not "June 2020"; Virker's
    exports always know the day, and a day that does not exist is no date."""
    doc = _json(INDIGO)
    doc["data"]["dates"]["start_date_of_service_provision"]["value"] = day
    found = [str(p) for p in validate.validate_indigo(doc)]
    assert f"data.dates.start_date_of_service_provision.value: {day!r} is not a full ISO " \
           "8601 date (YYYY-MM-DD)" in found


def test_indigo_codelists_the_schema_leaves_open_are_checked():
    doc = _json(INDIGO)
    finance = doc["data"]["overall_project_finance"]["maximum_potential_outcome_payment_v2"]
    finance["currency"]["value"] = "KR"
    doc["data"]["outcome_pricings"][0]["currency"]["value"] = "dkk"
    doc["data"]["jurisdiction"]["jurisdiction"]["value"] = "Denmark"
    found = {p.path: p.message for p in validate.validate_indigo(doc)}
    assert found == {
        "data.overall_project_finance.maximum_potential_outcome_payment_v2.currency.value":
            "'KR' is not an ISO 4217 currency code",
        "data.outcome_pricings[0].currency.value": "'dkk' is not an ISO 4217 currency code",
        "data.jurisdiction.jurisdiction.value":
            "'Denmark' is not a country of the INDIGO codelist (ISO 3166 alpha-2)"}


def test_nothing_marked_private_may_be_carried_in_indigo():
    doc = _json(INDIGO)
    price = doc["data"]["outcome_pricings"][0]["price_per_unit"]["amount"]
    price["status"] = "PRIVATE"
    assert [str(p) for p in validate.validate_indigo(doc)] == [
        "data.outcome_pricings[0].price_per_unit.amount: a value marked PRIVATE is carried: "
        "nothing private may leave"]
    price.pop("value")  # marked private and left out: what INDIGO's status is for
    assert validate.validate_indigo(doc) == []


def test_indigo_types_come_from_the_schema():
    doc = _json(INDIGO)
    doc["data"]["overall_project_finance"]["maximum_potential_outcome_payment_v2"][
        "amount"]["value"] = "6.900.000,00"
    doc["organisations"][0]["data"]["type"] = {"value": "Municipality"}
    found = {p.path: p.message for p in validate.validate_indigo(doc)}
    assert found["data.overall_project_finance.maximum_potential_outcome_payment_v2.amount"
                 ".value"] == "'6.900.000,00' is not of type 'number'"
    assert found["organisations[0].data.type.value"].startswith(
        "'Municipality' is not one of")


def test_a_360giving_grant_needs_its_currency_and_a_real_award_date():
    doc = _json(GIVING)
    grant = doc["grants"][0]
    grant.pop("currency")
    grant["awardDate"] = "June 2020"
    grant["amountAwarded"] = "2.760.000"
    found = {p.path: p.message for p in validate.validate_360giving(doc)}
    assert "'currency' is a required property" in found["grants[0]"]
    assert "'June 2020' is not a 'date-time'" in found["grants[0].awardDate"]
    assert found["grants[0].amountAwarded"] == "'2.760.000' is not of type 'number'"


def test_a_grant_id_carries_the_360giving_prefix():
    doc = _json(GIVING)
    doc["grants"][0]["id"] = "virker-1"
    assert [str(p) for p in validate.validate_360giving(doc)] == [
        "grants[0].id: a grant id starts with the publisher's 360G- prefix"]


def test_merge_patch_follows_rfc_7386():
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    assert validate.merge_patch(target, {"a": "z", "c": {"f": None}}) == {
        "a": "z", "c": {"d": "e"}}
    assert validate.merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}}  # untouched


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (15_000_000, "DKK", "150000.00"), (1, "EUR", "0.01"), (123_456, "ISK", "123456"),
    (10**15, "NOK", "10000000000000.00")])
def test_money_leaves_as_an_exact_number_of_major_units(amount, currency, text):
    assert major(amount, currency) == Decimal(text)
    assert encode({"amount": major(amount, currency)}, indent=0) == \
        f'{{"amount":{text}}}'.encode()


def test_a_missing_folder_of_schemas_is_said_plainly(monkeypatch, tmp_path):
    monkeypatch.setenv("VIRKER_SCHEMAS", str(tmp_path))
    with pytest.raises(validate.SchemasMissing, match="VIRKER_SCHEMAS"):
        validate.schemas_dir()
