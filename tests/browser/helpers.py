"""What the browser tests share: signing in as a demo user, screenshots a person can look at,
the accessibility check, and the JSON API for setting a scene up and checking what a page
did (with the demo's fixed API keys: /api/v1 takes keys, never the browser's session).

Locators are those a user goes by: labels, headings, button texts. Where the pages' words
may still change, a locator takes a regular expression of the few words that must be there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.demo import PASSWORD

# The demo's people, by the job the tests give them (api/demo.py).
COMMISSIONER = "sofie@holbaek.example"  # Holbæk Kommune: INDIGO-POJ-0313, employment.entry
PROVIDER = "peter@ips-holbaek.example"  # Holbæk Jobcenter, IPS-teamet
AUDITOR = "karen@revision.example"  # Kommunernes Revision
ADMIN = "admin@virker.example"
# The second commissioner of Holbæk, who checks what the first drafted (maker-checker).
# The demo is asked to have one; until it does, `Scene.checker()` makes one.
CHECKER = "jens@holbaek.example"
CHECKER_NAME = "Jens Nygaard"
KEYS = {"holbaek": "vk_demo_holbaek_key", "ips": "vk_demo_ips_key",
        "operator": "vk_demo_operator_key", "revision": "vk_demo_revision_key"}

SCREENSHOTS: Path | None = None  # set by the session (conftest)
ENGINE = ""  # the engine of the server the current test runs against
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Danish money as Babel writes it: 1.500,00 kr. (the space before kr. is a no-break space).
DANISH_MONEY = re.compile(r"\d{1,3}(?:\.\d{3})*,\d{2}\s?kr\.")
DANISH_DATE = re.compile(r"\d{1,2}\. (?:jan|feb|mar|apr|maj|jun|jul|aug|sep|okt|nov|dec)\.? "
                         r"\d{4}")


# Signing in and out -----------------------------------------------------------------------


def sign_in(page, email: str, *, password: str = PASSWORD, lang: str | None = "en") -> None:
    """Sign in through the sign-in form, then choose `lang` with the language picker every
    page has (the choice is kept on the user, so each test states its own; None keeps
    whatever the user had, e.g. Danish for a Danish municipality)."""
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.locator("form[action='/login'] [type=submit]").click()
    assert "/login" not in page.url, f"{email} was not signed in: {_problem_text(page)}"
    if lang is not None:
        choose_language(page, lang)


def sign_out(page) -> None:
    with page.expect_navigation():
        page.locator("form[action='/logout'] [type=submit]").click()
    page.context.clear_cookies()


def choose_language(page, lang: str) -> None:
    """The language picker in the page's header (a form that works without JavaScript)."""
    page.locator("#language").select_option(lang)
    with page.expect_navigation():
        page.locator("form[action='/language'] [type=submit]").click()
    assert page.locator("html").get_attribute("lang") == lang


def _problem_text(page) -> str:
    alert = page.locator("[role=alert], .problem")
    return alert.first.inner_text() if alert.count() else page.title()


# What a person looks at ---------------------------------------------------------------------

_shots = 0


def shot(page, name: str) -> Path | None:
    """A full-page screenshot, numbered in the order taken, in the session's folder."""
    global _shots
    if SCREENSHOTS is None:
        return None
    _shots += 1
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    path = SCREENSHOTS / (ENGINE or "any") / f"{_shots:03d}-{slug}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def visit(page, path: str, *, expect_status: int | None = 200):
    """Go to `path` and check the answer's status (a page that is not there yet fails
    here, saying so, rather than somewhere later)."""
    response = page.goto(path)
    assert response is not None, f"no answer for {path}"
    if expect_status is not None:
        assert response.status == expect_status, (
            f"GET {path} answered {response.status}, not {expect_status}"
            f"{' (the page is not there yet)' if response.status == 404 else ''}: "
            f"{page.locator('main').inner_text()[:300] if page.locator('main').count() else ''}")
    return response


# Accessibility ------------------------------------------------------------------------------

BLOCKING = ("serious", "critical")


def check_accessibility(page, name: str | None = None) -> list[dict]:
    """Run axe-core in the page and fail on every serious or critical violation, listed
    readably; returns the lesser ones. axe-playwright-python carries axe.min.js (axe-core
    4.12 with 0.1.8; MPL-2.0) and evaluates it through the DevTools protocol, which the
    Content-Security-Policy does not apply to, so no script tag is needed."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    violations = results["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    if violations and SCREENSHOTS is not None:
        slug = re.sub(r"[^a-z0-9]+", "-", (name or page.url).lower()).strip("-")[-80:]
        report = SCREENSHOTS / (ENGINE or "any") / f"axe-{slug}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(violations, indent=1))
    assert not blocking, (f"{len(blocking)} serious or critical accessibility violations on "
                          f"{page.url}:\n" + describe(blocking))
    return [v for v in violations if v.get("impact") not in BLOCKING]


def describe(violations: list[dict], nodes: int = 4) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:nodes]:
            target = " ".join(map(str, node.get("target", [])))
            html = re.sub(r"\s+", " ", node.get("html", ""))[:160]
            summary = re.sub(r"\s+", " ", node.get("failureSummary", ""))[:240]
            lines.append(f"    {target}: {html}\n      {summary}")
        if len(v["nodes"]) > nodes:
            lines.append(f"    ... and {len(v['nodes']) - nodes} more")
    return "\n".join(lines)


# The JSON API, for setting a scene up and for checking what a page did ---------------------


class Api:
    """/api/v1 as one organisation (a demo API key)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.client = httpx.Client(base_url=base_url + "/api/v1", timeout=60,
                                   headers={"Authorization": f"Bearer {key}"})

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 202),
             **kwargs: Any) -> Any:
        r = self.client.request(method, path, **kwargs)
        assert r.status_code in ok, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json() if r.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, json=body, **kwargs)

    def csv(self, path: str, text: str, key: str) -> Any:
        return self.call("POST", path, content=text.encode(), headers={
            "content-type": "text/csv", "Idempotency-Key": key})

    def close(self) -> None:
        self.client.close()


@dataclass
class Scene:
    """The demo as the tests find it on one server, and contracts made for one test so
    that tests never depend on each other's steps."""

    base_url: str
    apis: dict[str, Api] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    def api(self, who: str) -> Api:
        if who not in self.apis:
            self.apis[who] = Api(self.base_url, KEYS[who])
        return self.apis[who]

    def close(self) -> None:
        for api in self.apis.values():
            api.close()

    # Ids of the demo ---------------------------------------------------------------------

    def org(self, identifier_or_name: str) -> str:
        orgs = self._cache.setdefault("orgs", self.api("operator").get("/organisations"))
        for o in orgs:
            if identifier_or_name in (o["identifier"], o["name"]):
                return o["id"]
        raise LookupError(identifier_or_name)

    def contract(self, reference: str = "INDIGO-POJ-0313", who: str = "holbaek") -> dict:
        key = f"contract:{who}:{reference}"
        if key not in self._cache:
            cursor = None
            while True:
                page = self.api(who).get("/contracts", limit=200,
                                         **({"cursor": cursor} if cursor else {}))
                found = [c for c in page["items"] if c["reference"] == reference]
                if found:
                    self._cache[key] = found[0]
                    break
                cursor = page.get("next_cursor")
                assert cursor, f"no contract {reference} for {who}"
        return self._cache[key]

    def claim(self, contract_id: str, status: str | None = None) -> dict:
        params = {"limit": 1, **({"status": status} if status else {})}
        items = self.api("holbaek").get(f"/contracts/{contract_id}/claims", **params)["items"]
        assert items, f"no {status or ''} claim on {contract_id}"
        return items[0]

    def payment_run(self, contract_id: str) -> dict:
        runs = self.api("holbaek").get(f"/contracts/{contract_id}/payment-runs")
        assert runs, f"no payment run on {contract_id}"
        return runs[0]

    def batch(self, contract_id: str) -> dict:
        items = self.api("holbaek").get(f"/contracts/{contract_id}/batches", limit=1)["items"]
        assert items, f"no batch on {contract_id}"
        return items[0]

    def checker(self) -> str:
        """A second commissioner of Holbæk (the demo's, or one made now): the e-mail."""
        holbaek = self.org("DK-CVR-90000004")
        users = self.api("operator").get("/users")
        others = [u["email"] for u in users if u["organisation_id"] == holbaek
                  and u["role"] == "commissioner" and u["email"] != COMMISSIONER
                  and u["active"]]
        if others:
            return CHECKER if CHECKER in others else others[0]
        self.api("operator").post("/users", dict(
            organisation_id=holbaek, email=CHECKER, display_name=CHECKER_NAME,
            role="commissioner", password=PASSWORD))
        return CHECKER

    # Contracts made for one test ---------------------------------------------------------

    def new_contract(self, reference: str, *, sampling_rate_bp: int = 1_000,
                     activate: bool = True) -> dict:
        """Holbæk alone commissions IPS-teamet: jobs at 35,000 kr., fit-for-work at
        10,000 kr., a cap of 10,000,000 kr."""
        money = lambda kroner: {"amount": kroner * 100, "currency": "DKK"}  # noqa: E731
        contract = self.api("holbaek").post("/contracts", dict(
            reference=reference, title=f"Browser test {reference}",
            provider_id=self.org("DK-CVR-90000008"), currency="DKK",
            terms=dict(service_period={"start": "2025-01-01", "end": "2027-12-31"},
                       enrolment_period={"start": "2025-01-01", "end": "2027-06-30"},
                       claims_deadline="2028-06-30", cap=money(10_000_000),
                       commissioners=[{"organisation_id": self.org("DK-CVR-90000004"),
                                       "share_bp": 10_000}],
                       sampling_rate_bp=sampling_rate_bp,
                       rate_card=[dict(code="job", metric_code="employment",
                                       price=money(35_000),
                                       window={"start_day": 0, "end_day": 540}),
                                  dict(code="fit", metric_code="fit_for_work",
                                       price=money(10_000),
                                       window={"start_day": 0, "end_day": 540})])))
        if activate:
            contract = self.api("holbaek").post(f"/contracts/{contract['id']}/activate",
                                                {"reason": "signed by both parties"})
        return contract

    def claims_for(self, contract_id: str, prefix: str, n: int,
                   on: dt.date = dt.date(2025, 3, 3)) -> list[dict]:
        """`n` participants enrolled and one job claim each, from the provider; returns
        the batch report's results."""
        ips = self.api("ips")
        enrolled = "pseudonym,enrolled_on\n" + "".join(
            f"{prefix}-{i:03d},{on - dt.timedelta(days=30)}\n" for i in range(n))
        ips.csv(f"/contracts/{contract_id}/participants", enrolled, f"{prefix}-enrol")
        claims = "client_ref,pseudonym,metric_code,achieved_on,evidence_ref\n" + "".join(
            f"{prefix}-{i:03d}-job,{prefix}-{i:03d},employment,{on},eindkomst-{prefix}-{i:03d}\n"
            for i in range(n))
        report = ips.csv(f"/contracts/{contract_id}/claims", claims, f"{prefix}-claims")
        return report["results"]

    def sampled(self, contract_id: str) -> list[dict]:
        """Draw a sample on the contract; the claims now waiting for verification."""
        self.api("holbaek").post(f"/contracts/{contract_id}/samples",
                                 {"seed": f"browser-{int(time.time() * 1000)}"})
        return self.claims(contract_id, "sampled")

    def claims(self, contract_id: str, status: str | None = None) -> list[dict]:
        params = {"limit": 1000, **({"status": status} if status else {})}
        return self.api("holbaek").get(f"/contracts/{contract_id}/claims", **params)["items"]

    def approved_claims(self, contract_id: str, prefix: str, n: int) -> list[str]:
        """`n` claims taken in, drawn (nothing sampled at rate 0) and approved through the
        API, ready for a payment run over 2025."""
        results = self.claims_for(contract_id, prefix, n)
        ids = [r["id"] for r in results if r["status"] == "accepted"]
        assert len(ids) == n, results
        self.api("holbaek").post(f"/contracts/{contract_id}/samples",
                                 {"seed": f"{prefix}-draw"}, ok=(200, 201, 409))
        self.api("holbaek").post(f"/contracts/{contract_id}/approvals",
                                 {"claim_ids": ids, "reason": "set up by the test"})
        return ids


def uuid_in(url: str) -> str:
    found = re.findall(UUID_RE, url)
    assert found, f"no id in {url}"
    return found[-1]


# Finding what a user finds ------------------------------------------------------------------


def field(page, *patterns: str, within=None):
    """The form control whose label matches one of `patterns` (regular expressions, any
    case), first match wins; failing, the labels the page does have, to fix the test by."""
    scope = within or page
    for pattern in patterns:
        found = scope.get_by_label(re.compile(pattern, re.I))
        if found.count():
            return found.first
    labels = [t.strip() for t in scope.locator("label").all_inner_texts()]
    raise AssertionError(f"no field labelled {' or '.join(patterns)} on {page.url}; "
                         f"the labels there: {labels}")


def button(page, *patterns: str, within=None):
    """The button (or a link styled as one) whose name matches one of `patterns`."""
    scope = within or page
    for pattern in patterns:
        for role in ("button", "link"):
            found = scope.get_by_role(role, name=re.compile(pattern, re.I))
            if found.count():
                return found.first
    names = [t.strip() for t in scope.locator("button, a.button, input[type=submit]")
             .all_inner_texts()]
    raise AssertionError(f"no button {' or '.join(patterns)} on {page.url}; the buttons "
                         f"there: {names}")


def press(page, *patterns: str, within=None, confirm: str | None = None) -> None:
    """Press a button and wait until the page it leads to (or the fragment HTMX swaps in) has
    arrived. `confirm`: the confirming button that a bulk or irreversible action asks for
    next, on a confirmation page or behind a <details> whose summary the first pattern
    names (then that summary is the first step)."""
    if not _reveal(within or page, patterns):
        button(page, *patterns, within=within).click()
        page.wait_for_load_state("networkidle")
    if confirm is not None:
        _reveal(page, (confirm,))
        button(page, confirm).click()
        page.wait_for_load_state("networkidle")


def _reveal(scope, patterns) -> bool:
    """Open a closed <details> whose summary matches one of `patterns`."""
    for pattern in patterns:
        summary = scope.locator("details:not([open]) > summary",
                                has_text=re.compile(pattern, re.I))
        if summary.count():
            summary.first.click()
            return True
    return False


def named(page, name: str):
    """A form control by its name, where the form's names are its documented interface
    (the contract designer's: api/web/forms.py)."""
    found = page.locator(f"[name='{name}']")
    assert found.count(), f"no field named {name} on {page.url}"
    return found.first


def set_value(control, value: str) -> None:
    """Fill a text field or choose in a select, whichever the control is."""
    if control.evaluate("e => e.tagName") == "SELECT":
        control.select_option(value)
    else:
        control.fill(value)


def problem_shown(page) -> str:
    """The text of the problem a page shows (next to a field, or for the whole form)."""
    found = page.locator(".field-error, .problem, [role=alert]")
    assert found.count(), f"no problem is shown on {page.url}"
    return " ".join(found.all_inner_texts())


def main_text(page) -> str:
    return page.locator("main").inner_text()
