"""Who may do what, through HTTP: each role × each endpoint × own and another's contract."""

from __future__ import annotations

from tests.helpers import terms

ROLES = ["commissioner", "co_commissioner", "provider", "auditor", "admin"]

# expected status per role for (method, path template, whose contract)
READ = {"commissioner": 200, "co_commissioner": 200, "provider": 200, "auditor": 200,
        "admin": 200}
READ_OTHER = {"commissioner": 404, "co_commissioner": 404, "provider": 404, "auditor": 404,
              "admin": 200}
WRITE = {"commissioner": 201, "co_commissioner": 201, "provider": 403, "auditor": 403,
         "admin": 403}
WRITE_OTHER = {"commissioner": 404, "co_commissioner": 404, "provider": 404, "auditor": 403,
               "admin": 403}


def variation_body(w) -> dict:
    return {"reason": "matrix check", "terms": terms(
        [(w.ids["commissioner"], 6000), (w.ids["co_commissioner"], 4000)], [w.ids["auditor"]])}


async def test_contract_endpoints_answer_each_role_as_agreed(api, world):
    w = world
    cases = []
    for whose, read, write in (("own", READ, WRITE), ("other", READ_OTHER, WRITE_OTHER)):
        cid = w.contracts[whose]
        for suffix in ("", "/variations", "/events", "/proposals", "/acceptances"):
            cases.append(("GET", f"/api/v1/contracts/{cid}{suffix}", None, read))
        cases.append(("POST", f"/api/v1/contracts/{cid}/variations", "variation", write))
    wrong = []
    for method, path, body, expected in cases:
        for role in ROLES:
            # A variation from the co-commissioner of the other contract has to name them.
            payload = variation_body(w) if body else None
            r = await api.request(method, path, json=payload, headers=w.headers(role))
            if r.status_code != expected[role]:
                wrong.append(f"{role} {method} {path}: {r.status_code} != {expected[role]}")
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")
    assert wrong == []


async def test_lifecycle_actions_belong_to_the_contracts_commissioners(api, world):
    w = world
    cid = w.contracts["own"]
    for role, expected in [("provider", 403), ("auditor", 403), ("admin", 403),
                           ("other_commissioner", 404)]:
        r = await api.post(f"/api/v1/contracts/{cid}/activate", headers=w.headers(role))
        assert r.status_code == expected, role
        assert r.json()["code"] in ("commissioner_only", "read_only", "contract_not_found")
    # Either commissioner activates, once the other has accepted the same version.
    r = await api.post(f"/api/v1/contracts/{cid}/acceptances", json={"version": 1},
                       headers=w.headers("commissioner"))
    assert r.status_code == 201, r.text
    r = await api.post(f"/api/v1/contracts/{cid}/activate", json={"reason": "signed"},
                       headers=w.headers("co_commissioner"))
    assert r.status_code == 200 and r.json()["status"] == "active"


async def test_only_the_contracts_commissioners_accept_its_terms(api, world):
    w = world
    for whose, expected in (("own", {"commissioner": 201, "co_commissioner": 201,
                                     "provider": 403, "auditor": 403, "admin": 403}),
                            ("other", {"commissioner": 404, "co_commissioner": 404,
                                       "provider": 404, "auditor": 403, "admin": 403})):
        cid = w.contracts[whose]
        for role in ROLES:
            r = await api.post(f"/api/v1/contracts/{cid}/acceptances", json={"version": 1},
                               headers=w.headers(role))
            assert r.status_code == expected[role], (whose, role, r.text)
            assert r.status_code < 400 or r.json()["code"] in (
                "commissioner_only", "read_only", "contract_not_found")


async def test_auditors_write_nothing_but_the_acknowledgement_of_their_removal(api, world):
    """The one route open to an auditor's write is accepting a proposal; it still needs
    the proposal to ask for that auditor's acknowledgement."""
    w = world
    cid = w.contracts["own"]
    r = await api.post(f"/api/v1/contracts/{cid}/variations", json=variation_body(w),
                       headers=w.headers("commissioner"))
    assert r.status_code == 201
    pid = r.json()["id"]
    r = await api.post(f"/api/v1/contracts/{cid}/proposals/{pid}/accept",
                       headers=w.headers("auditor"))
    assert r.status_code == 403 and r.json()["code"] == "not_affected"
    r = await api.post(f"/api/v1/contracts/{cid}/proposals/{pid}/withdraw",
                       headers=w.headers("auditor"))
    assert r.status_code == 403 and r.json()["code"] == "read_only"
    r = await api.post(f"/api/v1/contracts/{cid}/acceptances", json={"version": 2},
                       headers=w.headers("auditor"))
    assert r.status_code == 403 and r.json()["code"] == "read_only"


async def test_lists_show_only_what_the_caller_may_see(api, world):
    w = world
    seen = {}
    for role in [*ROLES, "other_provider"]:
        r = await api.get("/api/v1/contracts", headers=w.headers(role))
        assert r.status_code == 200
        seen[role] = {c["id"] for c in r.json()["items"]}
    own, other = str(w.contracts["own"]), str(w.contracts["other"])
    for role in ("commissioner", "co_commissioner", "provider", "auditor"):
        assert seen[role] == {own}, role
    assert seen["other_provider"] == {other}
    assert seen["admin"] == {own, other}


async def test_only_commissioners_create_contracts_and_only_for_themselves(api, world):
    w = world
    body = {"reference": "NEW-1", "title": "New", "provider_id": str(w.ids["provider"]),
            "currency": "DKK",
            "terms": terms([(w.ids["commissioner"], 10_000)], [w.ids["auditor"]])}
    for role, expected in [("provider", 403), ("auditor", 403), ("admin", 403),
                           ("other_commissioner", 422), ("commissioner", 201)]:
        r = await api.post("/api/v1/contracts", json=body, headers=w.headers(role))
        assert r.status_code == expected, (role, r.text)
    r = await api.post("/api/v1/contracts", json=body, headers=w.headers("commissioner"))
    assert r.status_code == 409 and r.json()["code"] == "reference_taken"


async def test_administrators_alone_manage_organisations_and_users(api, world):
    w = world
    org = {"name": "Ny Forening", "kind": "ngo", "identifier": "DK-CVR-55555555"}
    user = {"organisation_id": str(w.ids["provider"]), "email": "new@ngo.example",
            "display_name": "New", "role": "provider", "password": "a long enough password"}
    for role in ("commissioner", "provider", "auditor"):
        r = await api.post("/api/v1/organisations", json=org, headers=w.headers(role))
        assert r.status_code == 403, role
        r = await api.post("/api/v1/users", json=user, headers=w.headers(role))
        assert r.status_code == 403, role
    r = await api.post("/api/v1/organisations", json=org, headers=w.headers("admin"))
    assert r.status_code == 201
    r = await api.post("/api/v1/users", json=user, headers=w.headers("admin"))
    assert r.status_code == 201 and "password" not in r.text
    r = await api.get("/api/v1/users", headers=w.headers("provider"))
    assert [u["email"] for u in r.json()] == ["new@ngo.example"]


async def test_metric_library_is_read_by_all_and_extended_by_commissioners(api, world):
    w = world
    metric = {"code": "fit_for_work", "name": "Fit for work", "definition": "Declared fit",
              "unit": "participant", "kind": "event", "evidence_required": "decision",
              "verification_source": "admin_data"}
    for role, expected in [("provider", 403), ("auditor", 403), ("commissioner", 201),
                           ("admin", 409)]:
        r = await api.post("/api/v1/metrics", json=metric, headers=w.headers(role))
        assert r.status_code == expected, role
    r = await api.get("/api/v1/metrics/fit_for_work", headers=w.headers("provider"))
    assert r.status_code == 200 and r.json()["kind"] == "event"
