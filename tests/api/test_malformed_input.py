"""Bad input gets a 4xx problem+json with a stable code; never a 500, and nothing changes."""

from __future__ import annotations

import copy

import pytest

from tests.helpers import contract_body


def body(w) -> dict:
    return contract_body(w.ids["provider"], [(w.ids["commissioner"], 10_000)],
                         [w.ids["auditor"]], reference="BAD-1")


def mutate(path: str, value):
    """Set a dotted path (list indices as numbers) in a copy of the body; `...` deletes."""

    def apply(b: dict) -> dict:
        b = copy.deepcopy(b)
        *parents, last = path.split(".")
        node = b
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is ...:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
        return b

    return apply


CASES = [
    # (what, change, status, code, field)
    ("wrong type for the cap", mutate("terms.cap.amount", "lots"), 400, "validation_error",
     "terms.cap.amount"),
    ("fractional amount", mutate("terms.cap.amount", 1000.5), 400, "validation_error",
     "terms.cap.amount"),
    ("negative price", mutate("terms.rate_card.0.price.amount", -5), 400, "validation_error",
     "terms.rate_card[0].price.amount"),
    ("unknown field", mutate("terms.colour", "blue"), 400, "validation_error", "terms"),
    ("impossible date", mutate("terms.claims_deadline", "2026-02-30"), 400,
     "validation_error", "terms.claims_deadline"),
    ("not a date", mutate("terms.service_period.start", "soon"), 400, "validation_error",
     "terms.service_period.start"),
    ("missing field", mutate("terms.cap", ...), 400, "validation_error", "terms"),
    ("bad currency code", mutate("currency", "kroner"), 400, "validation_error", "currency"),
    ("currency Virker does not pay in", mutate("currency", "XYZ"), 422, "invalid_terms",
     "currency"),
    ("shares not summing to 100 %", mutate("terms.commissioners.0.share_bp", 9000), 422,
     "invalid_terms", "terms.commissioners"),
    ("share above 100 %", mutate("terms.commissioners.0.share_bp", 12000), 400,
     "validation_error", "terms.commissioners[0].share_bp"),
    ("window ending before it starts",
     mutate("terms.rate_card.0.window", {"start_day": 100, "end_day": 10}), 422,
     "invalid_terms", "terms.rate_card[0].window"),
    ("negative window day", mutate("terms.rate_card.0.window", {"start_day": -1, "end_day": 10}),
     400, "validation_error", "terms.rate_card[0].window.start_day"),
    ("service period running backwards",
     mutate("terms.service_period", {"start": "2026-01-01", "end": "2024-01-01"}), 422,
     "invalid_terms", "terms.service_period"),
    ("unknown provider", mutate("provider_id", "0190f0f0-0000-7000-8000-000000000000"), 422,
     "invalid_terms", "provider_id"),
    ("provider id not a uuid", mutate("provider_id", "ngo-1"), 400, "validation_error",
     "provider_id"),
    ("unknown metric", mutate("terms.rate_card.0.metric_code", "happiness"), 422,
     "invalid_terms", "terms.rate_card[0].metric_code"),
    ("upper-case metric code", mutate("terms.rate_card.0.metric_code", "Housing"), 400,
     "validation_error", "terms.rate_card[0].metric_code"),
    ("huge amount", mutate("terms.cap.amount", 10**30), 400, "validation_error",
     "terms.cap.amount"),
    ("body is a list", lambda b: [b], 400, "validation_error", "body"),
    ("amount as the string 1e3", mutate("terms.cap.amount", "1e3"), 400, "validation_error",
     "terms.cap.amount"),
    ("amount as the float 1e3", mutate("terms.cap.amount", 1e3), 422, "invalid_terms",
     "terms.cap.amount"),
    ("price as a numeric string", mutate("terms.rate_card.0.price.amount", "1500000"), 400,
     "validation_error", "terms.rate_card[0].price.amount"),
    ("NUL in the title", mutate("title", "Housing\u0000first"), 400, "invalid_character",
     "title"),
    ("CPR number in the title", mutate("title", "Housing for 01.01.90.1234"), 422,
     "personal_identifier", "title"),
    ("deadline at the end of the calendar", mutate("terms.claims_deadline", "9999-12-31"), 400,
     "validation_error", "terms.claims_deadline"),
    ("date not in ISO 8601", mutate("terms.claims_deadline", "31-03-2026"), 400,
     "validation_error", "terms.claims_deadline"),
]


@pytest.mark.parametrize("what,change,status,code,field", CASES, ids=[c[0] for c in CASES])
async def test_bad_contract_input_is_refused_clearly(api, world, what, change, status, code,
                                                     field):
    r = await api.post("/api/v1/contracts", json=change(body(world)),
                       headers=world.headers("commissioner"))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert field in [e["field"] for e in problem.get("errors", [])] or field == "body", problem
    listed = await api.get("/api/v1/contracts", headers=world.headers("commissioner"))
    assert "BAD-1" not in {c["reference"] for c in listed.json()["items"]}


@pytest.mark.parametrize("raw,content_type,status,code", [
    (b"{not json", "application/json", 400, "malformed_request"),
    (b"", "application/json", 400, "validation_error"),
    (b"\xff\xfe", "application/json", 400, "malformed_request"),
    (b'{"reference": "X"}', "text/plain", 415, "unsupported_media_type"),
    (b"reference=X", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b"[" * 1000 + b"]" * 1000, "application/json", 400, "invalid_json"),
    (b'{"reference": ' * 1000 + b"1" + b"}" * 1000, "application/json", 400, "invalid_json"),
], ids=["broken json", "empty body", "not utf-8", "text/plain", "form", "1,000 arrays deep",
        "1,000 objects deep"])
async def test_unreadable_bodies_get_a_problem_not_a_500(api, world, raw, content_type, status,
                                                         code):
    r = await api.post("/api/v1/contracts", content=raw,
                       headers={**world.headers("commissioner"), "content-type": content_type})
    assert (r.status_code, r.json()["code"]) == (status, code), r.text


async def test_oversized_requests_get_413(api, world):
    huge = b'{"reference": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = await api.post("/api/v1/contracts", content=huge,
                       headers={**world.headers("commissioner"),
                                "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


@pytest.mark.parametrize("path", [
    "/api/v1/contracts/not-a-uuid",
    "/api/v1/contracts?status=paused",
    "/api/v1/contracts?limit=0",
    "/api/v1/contracts?limit=many",
    "/api/v1/contracts?cursor=abc",
    "/api/v1/nothing-here",
    "/api/v1/metrics/UNKNOWN",
    "/api/v1/organisations/0190f0f0-0000-7000-8000-000000000000",
])
async def test_bad_paths_and_queries_are_4xx_problems(api, world, path):
    r = await api.get(path, headers=world.headers("commissioner"))
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"]


async def test_wrong_method_is_405(api, world):
    r = await api.put("/api/v1/contracts", json={}, headers=world.headers("commissioner"))
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("payload,code", [
    ({"name": "X", "kind": "ngo", "identifier": "12345678"}, "validation_error"),
    ({"name": "", "kind": "ngo", "identifier": "DK-CVR-12345678"}, "validation_error"),
    ({"name": "X", "kind": "club", "identifier": "DK-CVR-12345678"}, "validation_error"),
])
async def test_bad_organisations_are_refused(api, world, payload, code):
    r = await api.post("/api/v1/organisations", json=payload, headers=world.headers("admin"))
    assert r.status_code == 400 and r.json()["code"] == code


async def test_weak_passwords_and_bad_emails_are_refused(api, world):
    base = {"organisation_id": str(world.ids["provider"]), "email": "a@ngo.example",
            "display_name": "A", "role": "provider", "password": "long enough password"}
    for change in ({"password": "short"}, {"email": "not-an-email"}, {"role": "boss"}):
        r = await api.post("/api/v1/users", json={**base, **change},
                           headers=world.headers("admin"))
        assert r.status_code == 400, change


async def test_metric_kind_rules_are_enforced(api, world):
    metric = {"code": "sustained_6m", "name": "Sustained", "definition": "d", "unit": "p",
              "kind": "duration", "evidence_required": "e", "verification_source": "admin_data"}
    r = await api.post("/api/v1/metrics", json=metric, headers=world.headers("commissioner"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "duration_required"
