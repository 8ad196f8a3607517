"""The effect documents over HTTP: the effect report (rendered in the report workers) prints
and carries exactly what GET /effect and GET /forecast answer the same reader; the
portfolio's report is its commissioner's; the funnel plot is SVG with a labelled point per
contract shown."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import msgspec
import pikepdf

from effect.schemas import ContractEffect
from reports.effect import percent
from reports.formats import money
from tests.integration.test_effect_documents import (
    assert_prints,
    attachments_of,
    comparison_world,
    effect_contract,
    funnel_parts,
    text_of,
    written,
)


async def test_the_parties_get_the_report_with_the_figures_the_api_gives_them(api, world):
    w = world
    cid = await effect_contract(w)
    path = f"/api/v1/contracts/{cid}/effect.pdf"
    for role in ("commissioner", "co_commissioner", "provider", "auditor", "admin"):
        r = await api.get(path, headers=w.headers(role))
        assert r.status_code == 200, (role, r.text)
        assert r.headers["content-type"] == "application/pdf"
        assert re.fullmatch(r'attachment; filename="effect-C-\d+-\d{4}-\d\d-\d\d\.pdf"',
                            r.headers["content-disposition"])
        effect = (await api.get(f"/api/v1/contracts/{cid}/effect",
                                headers=w.headers(role))).json()
        forecast = (await api.get(f"/api/v1/contracts/{cid}/forecast",
                                  headers=w.headers(role))).json()
        files = attachments_of(r.content)
        assert json.loads(files["effect.json"]) == effect, role
        assert json.loads(files["forecast.json"]) == forecast, role
    for role in ("other_commissioner", "other_provider", "other_auditor"):
        r = await api.get(path, headers=w.headers(role))
        assert r.status_code == 404 and r.json()["code"] == "contract_not_found", role
    assert (await api.get(path)).status_code == 401


async def test_the_printed_figures_equal_the_json(api, world):
    w = world
    cid = await effect_contract(w)
    day = "2026-01-15"
    r = await api.get(f"/api/v1/contracts/{cid}/effect.pdf?as_of={day}&lang=en",
                      headers=w.headers("auditor"))
    assert r.status_code == 200, r.text
    answer = await api.get(f"/api/v1/contracts/{cid}/effect?as_of={day}",
                           headers=w.headers("auditor"))
    effect = msgspec.convert(answer.json(), ContractEffect)
    text = text_of(r.content)
    assert_prints(text, effect, "en")
    entry = effect.lines[0].total
    assert f"Figures as of {day}" in text.replace("\n", " ")
    assert (entry.observed, entry.achieved) == (12, 7)
    assert re.search(rf"entry\s+housing entry\s+12\s+12\s+7\s+{written(percent(entry.rate))}",
                     text)
    assert re.search(rf"{written(money(effect.paid.amount, 'DKK', 'en'))}", text)
    with pikepdf.open(io.BytesIO(r.content)) as doc:
        assert doc.open_metadata()["pdfaid:part"] == "3"
        assert doc.open_metadata()["pdfaid:conformance"] == "U"
    # Unreadable days and languages are refused before anything renders.
    for bad in ("as_of=2026-02-30", "lang=fr"):
        r = await api.get(f"/api/v1/contracts/{cid}/effect.pdf?{bad}",
                          headers=w.headers("auditor"))
        assert r.status_code == 400, bad


async def test_a_portfolio_report_is_its_commissioners(api, world):
    w = world
    cid = await effect_contract(w)
    r = await api.get("/api/v1/portfolio/effect.pdf", headers=w.headers("commissioner"))
    assert r.status_code == 200, r.text
    files = attachments_of(r.content)
    effect = (await api.get(f"/api/v1/contracts/{cid}/effect",
                            headers=w.headers("commissioner"))).json()
    assert json.loads(files["effect.json"]) == [effect]  # the world's other contracts are drafts
    forecast = (await api.get("/api/v1/forecast", headers=w.headers("commissioner"))).json()
    assert json.loads(files["forecast.json"]) == forecast
    assert f"Contract {effect['reference']}" in text_of(r.content)
    # An administrator names the commissioner and gets the same figures.
    org = w.ids["commissioner"]
    r = await api.get(f"/api/v1/portfolio/effect.pdf?organisation_id={org}",
                      headers=w.headers("admin"))
    assert r.status_code == 200
    assert json.loads(attachments_of(r.content)["effect.json"]) == [effect]
    refusals = [
        ("admin", "", 422, "invalid_field"),
        ("provider", "", 403, "commissioner_only"),
        ("auditor", "", 403, "commissioner_only"),
        ("commissioner", f"?organisation_id={w.ids['other_commissioner']}", 403,
         "not_your_organisation"),
    ]
    for who, query, status, code in refusals:
        r = await api.get(f"/api/v1/portfolio/effect.pdf{query}", headers=w.headers(who))
        assert r.status_code == status and r.json()["code"] == code, (who, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_the_funnel_is_svg_with_a_labelled_point_per_contract_shown(api, world):
    w = world
    ours, large, small = await comparison_world(w)
    r = await api.get("/api/v1/comparisons/housing_entry/funnel.svg",
                      headers=w.headers("commissioner"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    ET.fromstring(r.text)  # well-formed XML
    comparison = (await api.get("/api/v1/comparisons/housing_entry",
                                headers=w.headers("commissioner"))).json()
    shown = [u["reference"] for u in comparison["units"] if not u["figures"]["suppressed"]]
    hidden = [u["reference"] for u in comparison["units"] if u["figures"]["suppressed"]]
    assert hidden == ["OTHER-SMALL"]
    labels, text = funnel_parts(r.text)
    assert sorted(labels.values()) == sorted(shown)
    assert "OTHER-SMALL" not in text and "1 contract not shown: fewer than 5 people" in text
    # The y axis is in per cent, written as the reader's language writes it.
    pooled = comparison["pooled_rate"]
    assert f"pooled rate {percent(pooled, 'da')}" in text  # Danish, for contracts in DKK
    assert "\xa0%" in percent(pooled, "da") and " 0\xa0% " in text  # the axis' first tick
    english = await api.get("/api/v1/comparisons/housing_entry/funnel.svg?lang=en",
                            headers=w.headers("commissioner"))
    text = funnel_parts(english.text)[1]
    assert f"pooled rate {percent(pooled, 'en')}" in text and " 0% " in text
    assert "\xa0" not in text
    r = await api.get("/api/v1/comparisons/no_such_metric/funnel.svg",
                      headers=w.headers("commissioner"))
    assert r.status_code == 404 and r.json()["code"] == "subject_not_found"
    assert (await api.get("/api/v1/comparisons/housing_entry/funnel.svg")).status_code == 401
