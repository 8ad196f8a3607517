"""/schema/openapi.json says what the API does: every operation's errors as problem+json,
the batch endpoints' bodies and headers, and only statuses the server can answer.
tests/api/test_schemathesis.py holds the document to the server request by request."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from api import openapi
from api.errors import PROBLEM_JSON
from contracts.schemas import FIRST_DAY, LAST_DAY

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
async def document(api) -> dict:
    r = await api.get("/schema/openapi.json")
    assert r.status_code == 200
    return r.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def problem_validator(document: dict):
    """A validator for a problem body against the document's own ProblemDetails."""
    schema = {"$ref": "#/components/schemas/ProblemDetails",
              "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


async def test_the_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"].startswith("3.1")


async def test_every_operation_says_what_its_service_refuses_and_nothing_else_is_listed(
        document):
    documented = {key for key, _ in operations(document)}
    missing = documented - set(openapi.REFUSALS)
    assert not missing, f"add these to api.openapi.REFUSALS: {sorted(missing)}"
    stale = set(openapi.REFUSALS) - documented
    assert not stale, f"api.openapi.REFUSALS names operations that are gone: {sorted(stale)}"
    assert set(openapi.BATCHES) | set(openapi.IDEMPOTENT) <= documented


async def test_every_error_is_problem_json(document):
    for key, op in operations(document):
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        assert errors, key
        for status, response in errors.items():
            content = response["content"]
            assert list(content) == [PROBLEM_JSON], (key, status)
            assert content[PROBLEM_JSON]["schema"] == {
                "$ref": "#/components/schemas/ProblemDetails"}, (key, status)
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert set(problem["required"]) == {"type", "title", "status", "code"}
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/Problem"}
    assert "Validation Exception" not in str(document)  # Litestar's own 400 body is gone


async def test_statuses_follow_from_what_an_operation_takes(document):
    ops = dict(operations(document))
    for key, op in ops.items():
        statuses = set(op["responses"])
        params = {p["in"] for p in op.get("parameters", [])}
        assert "503" in statuses, key
        assert ("404" in statuses) == ("path" in params), key
        assert ("413" in statuses) == ("requestBody" in op), key
        if op.get("security"):
            assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"], key
    # Nothing to misread, nothing to find, no body: no 400, 404 or 413.
    assert set(ops["GET /api/v1/organisations"]["responses"]) == {"200", "401", "503"}
    assert set(ops["GET /health"]["responses"]) == {"200", "503"}
    # Writes: auditors are refused (403), and only JSON is taken (415).
    assert {"403", "415", "409", "422"} <= set(
        ops["POST /api/v1/contracts/{contract_id}/variations"]["responses"])
    assert "415" not in ops["DELETE /api/v1/api-keys/{key_id}"]["responses"]
    # The web UI's JSON sign-in: CSRF (403), wrong password (401), throttled (429).
    login = ops["POST /auth/login"]["responses"]
    assert {"401", "403", "429"} <= set(login) and "security" not in ops["POST /auth/login"]
    assert login["429"]["headers"]["Retry-After"]["required"]


async def test_batches_take_json_or_csv_with_an_idempotency_key(document):
    ops = dict(operations(document))
    for key, rows in openapi.BATCHES.items():
        op = ops[key]
        body = op["requestBody"]
        assert body["required"]
        assert set(body["content"]) == {"application/json", "text/csv"}
        array = body["content"]["application/json"]["schema"]
        assert array["type"] == "array" and array["maxItems"] == 10_000
        assert array["items"] == {"$ref": f"#/components/schemas/{rows.__name__}"}
        row = document["components"]["schemas"][rows.__name__]
        assert row["additionalProperties"] is False
        assert set(row["properties"]) == set(rows.__struct_fields__)
        assert body["content"]["text/csv"]["schema"]["type"] == "string"
        [header] = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header"
        assert header["required"] is key.endswith("/claims")
        for status in ("200", "201"):
            replayed = op["responses"][status]["headers"]["Idempotent-Replayed"]
            assert replayed["required"] and replayed["schema"]["enum"] == ["true", "false"]
            assert op["responses"][status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/BatchReport"}
    run = ops["POST /api/v1/contracts/{contract_id}/payment-runs"]
    assert {"200", "201"} <= set(run["responses"])
    assert [p["required"] for p in run["parameters"] if p["name"] == "Idempotency-Key"] == [
        False]


async def test_bodies_are_described_as_msgspec_decodes_them(document):
    schemas = document["components"]["schemas"]
    # Unknown fields are refused, constraints on optional fields kept, money an integer.
    assert schemas["MetricIn"]["additionalProperties"] is False
    assert schemas["MetricIn"]["properties"]["duration_days"]["anyOf"][0]["minimum"] == 0
    assert schemas["Money"]["properties"]["amount"]["type"] == "integer"
    # No text holds a NUL; dates lie within what Virker takes.
    pseudonym = schemas["ParticipantIn"]["properties"]["pseudonym"]
    assert pseudonym["pattern"] == openapi.NO_NUL
    assert schemas["ParticipantIn"]["properties"]["enrolled_on"]["pattern"] == (
        openapi.DATE_IN_RANGE)
    # Patterns mean for the document's readers (ECMA-262) what they mean to msgspec (Python).
    email = schemas["UserIn"]["properties"]["email"]["pattern"]
    assert "\\s" not in email and re.fullmatch(email, "a@b.dk")
    assert not re.fullmatch(email, "a\x1d@b.dk")  # whitespace to Python, not to ECMA-262
    # An optional query parameter may be sent as null, which means left out.
    ops = dict(operations(document))
    [status] = [p for p in ops["GET /api/v1/contracts"]["parameters"] if p["name"] == "status"]
    assert status["schema"]["anyOf"][1] == {"type": "null"}
    # A body the handler may go without is not required.
    assert ops["POST /api/v1/contracts/{contract_id}/close"]["requestBody"]["required"] is False


def test_the_date_pattern_takes_exactly_the_days_virker_takes():
    pattern = re.compile(openapi.DATE_IN_RANGE)
    day = dt.date(1899, 12, 1)
    while day <= dt.date(2201, 1, 31):
        assert bool(pattern.fullmatch(day.isoformat())) == (FIRST_DAY <= day <= LAST_DAY), day
        day += dt.timedelta(days=1)
    for impossible in ("2023-02-29", "2100-02-29", "2024-04-31", "2024-13-01", "2024-00-10"):
        assert not pattern.fullmatch(impossible)


async def test_the_server_answers_errors_as_the_document_says(api, world, document):
    w = world
    check = problem_validator(document)
    answers = [
        await api.get("/api/v1/contracts"),  # 401
        await api.get(f"/api/v1/contracts/{uuid.uuid4()}", headers=w.headers("provider")),
        await api.get("/api/v1/contracts?limit=0", headers=w.headers("provider")),  # 400
        await api.post(f"/api/v1/contracts/{w.contracts['own']}/claims", content=b"[]",
                       headers={**w.headers("provider"), "content-type": "text/plain"}),
    ]
    assert [r.status_code for r in answers] == [401, 404, 400, 415]
    for r in answers:
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        check.validate(r.json())
    assert answers[0].headers["www-authenticate"] == "Bearer"


async def test_every_page_shows_the_same_document(api, document):
    r = await api.get("/schema/openapi.yaml")
    assert r.status_code == 200 and yaml.safe_load(r.text) == document
    for page in ("/schema", "/schema/swagger"):
        r = await api.get(page)
        assert r.status_code == 200 and "ProblemDetails" in r.text, page
