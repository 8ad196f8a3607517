"""Comparison and advice in the browser: the subjects of the metric library, the funnel plot
and the table of contracts listed by reference (never ranked) with small cells suppressed
for an outsider, the allocation advice for commissioners, and their decisions: accepted
(with the variation drafted, and proposed from here) or overridden with a justification,
each then what the JSON API reports."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

from core.clock import now
from tests import effect_data as data
from tests.helpers import key, org
from tests.web.helpers import post_form, sign_in

M = "ips_employment"
CATEGORY = "employment.entry"
SUPPRESSED = "suppressed (fewer than 5 people)"


async def compared() -> SimpleNamespace:
    """The field of tests/effect_data.py (R-2, expand, and R-4 commissioned by `x`; the rest,
    R-5 to be reviewed among them, by `y`), and S-9 of `y` with a small cell: 3 of 40."""
    await data.metric(M, CATEGORY)
    await data.metric("unpaid_metric")
    x = await org("municipality", "Municipality X")
    y = await org("municipality", "Municipality Y")
    field = await data.field(M, {"R-2": x, "R-4": x}, y)
    provider = await org("ngo", "Provider S-9")
    s9 = await data.contract(y, provider, M, reference="S-9", line=dict(data.FIELD_LINE))
    await data.people(s9, n=40, achieved=3, enrolled_on=now().date() - dt.timedelta(days=200),
                      metric_code=M, organisation=provider)
    return SimpleNamespace(field=field, x=x, y=y, s9=s9,
                           x_h={"Authorization": f"Bearer {await key(x)}"},
                           y_h={"Authorization": f"Bearer {await key(y)}"})


def table_rows(html: str, caption: str) -> list[str]:
    """The rows of the table whose caption holds `caption`."""
    start = html.index(caption)
    body = html[start:html.index("</table>", start)]
    return body.split("<tr")[2:]


def reference_of(row: str) -> str:
    return re.search(r'<th scope="row">\s*([A-Z]-\d)', row).group(1)


async def test_the_subjects_say_how_many_contracts_use_each(api, db):
    await compared()
    w_org = await org("audit_firm")
    await sign_in(api, w_org, "auditor")
    r = await api.get("/compare")
    assert r.status_code == 200, r.text
    assert f'href="/compare/{CATEGORY}"' in r.text and f'href="/compare/{M}"' in r.text
    row = next(x for x in r.text.split("<tr") if f"<code>{M}</code>" in x)
    assert '<td class="num">8</td>' in row
    row = next(x for x in r.text.split("<tr") if "<code>unpaid_metric</code>" in x)
    assert "no contract pays for it yet" in row and 'href="/compare/unpaid_metric"' not in row


async def test_the_comparison_lists_contracts_by_reference_and_hides_small_cells(api, db):
    s = await compared()
    await sign_in(api, s.x, "commissioner")
    r = await api.get(f"/compare/{M}")
    assert r.status_code == 200, r.text
    # The funnel plot, our own SVG, inline and named.
    assert re.search(r'<svg role="img" aria-label="Funnel plot of ips_employment', r.text)
    assert "<?xml" not in r.text
    rows = table_rows(r.text, "Contracts paying for")
    references = [reference_of(row) for row in rows]
    # By reference, not by rate: R-2 (37 %) and R-5 (14 %) keep their places.
    assert references == ["R-1", "R-2", "R-3", "R-4", "R-5", "R-6", "R-7", "S-9"]
    by_ref = dict(zip(references, rows, strict=True))
    assert "yours" in by_ref["R-2"] and "yours" not in by_ref["R-1"]
    assert "above the 95 % limit" in by_ref["R-2"]
    assert "below the 99.8 % limit" in by_ref["R-5"]
    # The outsider's view of S-9: its small cell and what derives from it are suppressed.
    s9 = by_ref["S-9"]
    assert s9.count(SUPPRESSED) >= 3 and ">40<" in s9
    assert "3" not in re.sub(r"<[^>]+>|S-9|\(fewer than 5 people\)|Provider S-9|40|100", "", s9)
    # Its own commissioner sees S-9 in full.
    await sign_in(api, s.y, "commissioner")
    r = await api.get(f"/compare/{M}")
    s9 = dict(zip(references, table_rows(r.text, "Contracts paying for"), strict=True))["S-9"]
    assert SUPPRESSED not in s9 and re.search(r"7[.,]5", s9)


async def test_anyone_signed_in_compares_but_only_commissioners_get_advice(api, db):
    s = await compared()
    await sign_in(api, s.field["R-2"].provider_id, "provider")
    r = await api.get(f"/compare/{M}")
    assert r.status_code == 200 and "Allocation advice" not in r.text
    assert "Accept the advice" not in r.text
    r = await post_form(api, f"/compare/{M}/decisions",
                        {"contract_id": str(s.field["R-2"].contract_id), "decision": "accept"})
    assert r.status_code == 403
    await sign_in(api, await org("operator"), "admin")
    r = await api.get(f"/compare/{M}")
    assert r.status_code == 200 and "Allocation advice" in r.text
    assert "Accept the advice" not in r.text  # administrators read, they do not decide
    await sign_in(api, s.y, "commissioner")
    r = await api.get(f"/compare/{CATEGORY}")
    assert r.status_code == 200 and "Allocation advice" in r.text
    r = await api.get("/compare/no_such_subject")
    assert r.status_code == 404 and "Not found" in r.text
    # A commissioner decides for its own contracts only.
    r = await post_form(api, f"/compare/{M}/decisions",
                        {"contract_id": str(s.field["R-2"].contract_id), "decision": "accept"})
    assert r.status_code == 404


async def test_accepting_the_advice_drafts_a_variation_that_is_then_proposed(api, db):
    s = await compared()
    r2 = s.field["R-2"].contract_id
    await sign_in(api, s.x, "commissioner", "Mette Holm")
    page = await api.get(f"/compare/{M}")
    assert f'id="decide-{r2}"' in page.text and "expand" in page.text
    r = await post_form(api, f"/compare/{M}/decisions",
                        {"contract_id": str(r2), "decision": "accept", "shift": "0.10"})
    assert r.status_code == 303, r.text
    target = r.headers["location"]
    assert re.fullmatch(rf"/compare/{M}/decisions/[0-9a-f-]+", target)
    # The JSON API reports the decision, with who and when.
    made = (await api.get(f"/api/v1/advice/{M}/decisions", headers=s.x_h)).json()
    assert [(d["contract_id"], d["decision"], d["band"]) for d in made] == [
        (str(r2), "accepted", "expand")]
    assert made[0]["decided_by"].startswith("user:")
    # The drafted variation's key changes: 10 % more target, count and cap.
    r = await api.get(target)
    assert r.status_code == 200
    changes = r.text[r.text.index("Key changes"):]
    assert re.search(r"Line outcome: target</th><td>.*?70.*?</td><td>.*?77", changes, re.S)
    assert re.search(r"Line outcome: maximum count</th><td>.*?150.*?</td><td>.*?165",
                     changes, re.S)
    assert "Cap" in changes and f'href="/contracts/{r2}/vary"' in r.text
    # The commissioner sees the decision beside the advice, and in the list with who.
    page = await api.get(f"/compare/{M}")
    assert "Last decision: accepted" in page.text and "Decisions taken" in page.text
    # Proposed as it is: one commissioner, so it applies at once.
    r = await post_form(api, f"{target}/propose", {"reason": "Expand as the advice says"})
    assert r.status_code == 303, r.text
    r = await api.get(r.headers["location"])
    assert "The variation is proposed and applied" in r.text
    proposals = (await api.get(f"/api/v1/contracts/{r2}/proposals", headers=s.x_h)).json()
    assert [(p["status"], p["reason"]) for p in proposals] == [
        ("applied", "Expand as the advice says")]
    line = proposals[0]["terms"]["rate_card"][0]
    assert (line["target"], line["max_count"]) == (77, 165)


async def test_a_proposal_without_a_reason_is_refused_next_to_the_field(api, db):
    s = await compared()
    r2 = s.field["R-2"].contract_id
    await sign_in(api, s.x, "commissioner")
    r = await post_form(api, f"/compare/{M}/decisions",
                        {"contract_id": str(r2), "decision": "accept"})
    r = await post_form(api, f"{r.headers['location']}/propose", {"reason": ""})
    assert r.status_code == 422
    assert re.search(r'id="reason".*?</textarea>\s*<p class="field-error"', r.text, re.S)


async def test_an_override_needs_a_justification_shown_next_to_the_field(api, db):
    s = await compared()
    r5 = s.field["R-5"].contract_id
    await sign_in(api, s.y, "commissioner")
    r = await post_form(api, f"/compare/{M}/decisions",
                        {"contract_id": str(r5), "decision": "override", "justification": ""})
    assert r.status_code == 422
    section = r.text[r.text.index(f'id="decide-{r5}"'):]
    section = section[:section.index("</section>")]
    assert re.search(rf'id="justification-{r5}".*?</textarea>.*?<p class="field-error"[^>]*>'
                     r"say in a sentence why", section, re.S)
    assert "justification_required" in section
    # Only that contract's card carries the error.
    assert r.text.count('class="field-error"') == 1
    assert (await api.get(f"/api/v1/advice/{M}/decisions", headers=s.y_h)).json() == []
    # With HTMX the card comes back alone, with the error (HTMX swaps only 2xx answers).
    r = await post_form(api, f"/compare/{M}/decisions",
                        {"contract_id": str(r5), "decision": "override"}, htmx=True)
    assert r.status_code == 200 and "<html" not in r.text
    assert "say in a sentence why" in r.text and f'id="decide-{r5}"' in r.text
    reason = "The provider replaced its team in the spring; we review in six months."
    r = await post_form(api, f"/compare/{M}/decisions",
                        {"contract_id": str(r5), "decision": "override",
                         "justification": reason}, htmx=True)
    assert r.status_code == 200 and "Last decision: overridden" in r.text
    made = (await api.get(f"/api/v1/advice/{M}/decisions", headers=s.y_h)).json()
    assert [(d["contract_id"], d["decision"], d["justification"]) for d in made] == [
        (str(r5), "overridden", reason)]
    page = await api.get(f"/compare/{M}")
    decisions = page.text[page.text.index("Decisions taken"):]
    assert "R-5" in decisions and reason in decisions and "user:" in decisions


async def test_an_advice_accepted_with_htmx_leads_to_its_decision(api, db):
    s = await compared()
    r1 = s.field["R-1"].contract_id  # maintain: nothing moves
    await sign_in(api, s.y, "commissioner")
    r = await post_form(api, f"/compare/{M}/decisions",
                        {"contract_id": str(r1), "decision": "accept"}, htmx=True)
    assert r.status_code == 200
    target = r.headers["HX-Redirect"]
    assert target.startswith(f"/compare/{M}/decisions/")
    r = await api.get(target)
    assert "The advice moves no volume for this contract" in r.text
    assert "Propose the variation" not in r.text
