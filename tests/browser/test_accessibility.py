"""Every page of the web UI, for the role that uses it, with the demo's data: it answers,
has one h1, runs no script the Content-Security-Policy refuses and raises no error, and
axe-core finds no serious or critical violation. A screenshot of each is written."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    ADMIN,
    AUDITOR,
    COMMISSIONER,
    PROVIDER,
    check_accessibility,
    shot,
    visit,
)

# What axe checks is the HTML, the same on either engine: SQLite's server only (the journeys
# and tests/web render every page on PostgreSQL as well).
pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)]

EMAIL = {"commissioner": COMMISSIONER, "provider": PROVIDER, "auditor": AUDITOR,
         "admin": ADMIN, "visitor": None}

# (address, who uses it). {contract}: Holbæk's INDIGO-POJ-0313; {claim}, {run}, {batch}: one
# of its claims, its first payment run and its first batch; {subject}: employment.entry.
PAGES = [
    ("/", "visitor"),
    ("/login", "visitor"),
    ("/", "commissioner"),
    ("/queue", "commissioner"),
    ("/claims/{claim}", "commissioner"),
    ("/contracts", "commissioner"),
    ("/contracts/{contract}", "commissioner"),
    ("/contracts/new", "commissioner"),
    ("/contracts/{contract}/vary", "commissioner"),
    ("/payments", "commissioner"),
    ("/payment-runs/{run}", "commissioner"),
    ("/contracts/{contract}/batches", "commissioner"),
    ("/batches/{batch}", "commissioner"),
    ("/contracts/{contract}/participants", "commissioner"),
    ("/compare", "commissioner"),
    ("/compare/{subject}", "commissioner"),
    ("/audit", "auditor"),
    ("/provider", "provider"),
    ("/provider/keys", "provider"),
    ("/admin", "admin"),
    ("/contracts", "admin"),
]


@pytest.fixture(scope="module")
def ids(scene) -> dict[str, str]:
    contract = scene.contract("INDIGO-POJ-0313")
    return {"contract": contract["id"], "claim": scene.claim(contract["id"])["id"],
            "run": scene.payment_run(contract["id"])["id"],
            "batch": scene.batch(contract["id"])["id"], "subject": "employment.entry"}


@pytest.mark.parametrize(("path", "role"), PAGES, ids=[f"{r}:{p}" for p, r in PAGES])
def test_every_page_is_accessible(new_page, session_of, ids, path, role):
    address = path.format(**ids)
    page = new_page(storage_state=session_of(EMAIL[role]) if EMAIL[role] else None)
    visit(page, address)
    shot(page, f"{role}{path}")
    expect(page.locator("h1")).to_have_count(1)
    lesser = check_accessibility(page, f"{role}{path}")
    assert not page.problems, f"errors in the browser on {address}: {page.problems}"
    if lesser:
        print(f"{address}: moderate or minor: {', '.join(v['id'] for v in lesser)}")
