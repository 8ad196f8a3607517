"""The effect report and the funnel plot on both engines: the report prints the figures the
effect services give (the API's), carries their JSON, and is PDF/A-3u; the funnel draws one
labelled point per contract shown and none for a suppressed one; `virker effect` and
`virker advise` print the figures."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from uuid import UUID

import msgspec
import pandas as pd
import pikepdf
from pypdf import PdfReader

from contracts import service
from contracts.schemas import ContractIn
from effect import service as effects
from ledger import commitments
from outcomes import intake, payments, verification
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from reports.effect import (
    contract_report,
    count,
    interval,
    percent,
    points,
    portfolio_report,
    report_pdf,
)
from reports.effect import funnel_svg_for as funnel
from reports.formats import money
from tests.helpers import active_contract, contract_body, intake_terms, line, principal, world

VIRKER = str(Path(sys.executable).parent / "virker")
ENROLLED = dt.date(2024, 2, 1)
SVG = "{http://www.w3.org/2000/svg}"

# Housing entry against a target and the municipality's own rate; employment against a
# matched comparison group of 200 (Newcombe's interval).
CARD = [
    line("entry", "housing_entry", 15_000, window={"start_day": 0, "end_day": 365}, target=10,
         baseline={"kind": "historical", "rate_bp": 3000,
                   "source": "the municipality's own rate in 2022"}),
    line("job", "employment", 35_000, horizon_days=180,
         baseline={"kind": "comparison_group", "rate_bp": 2000, "n": 200,
                   "source": "a matched group from Jobindsats 2023"}),
]


async def deliver(provider, cid: UUID, n: int, outcomes: dict[str, int], *,
                  prefix: str = "R") -> list[UUID]:
    """Enrol `n` participants through the intake and claim `outcomes` (metric: how many of
    the first participants achieved it); returns the accepted claims' ids."""
    def area(i: int) -> str:
        return "Roskilde" if i % 2 else "Køge"

    await intake.submit_participants(intake.Submission(
        principal=provider, contract_id=cid, kind="participants", idempotency_key=None,
        body_hash=f"{prefix}-p"), [
        (i, ParticipantIn(pseudonym=f"{prefix}-{i}", enrolled_on=ENROLLED,
                          age_band="18-24" if i <= 8 else "25-29", area=area(i), cohort="A"),
         []) for i in range(1, n + 1)])
    rows, row = [], 0
    for metric, achieved in outcomes.items():
        for i in range(1, achieved + 1):
            row += 1
            rows.append((row, ClaimIn(
                client_ref=f"{prefix}-{metric}-{i}", pseudonym=f"{prefix}-{i}",
                metric_code=metric, achieved_on=ENROLLED + dt.timedelta(days=30 + row),
                evidence_ref="register"), []))
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key=f"{prefix}-c",
        body_hash=f"{prefix}-c"), rows)
    assert all(r.status == "accepted" for r in report.results), report
    return [r.id for r in report.results]


async def effect_contract(w) -> UUID:
    """Twelve participants through the intake: seven entered housing, two found work; every
    claim approved and paid in one run."""
    cid = await active_contract(w, sampling_rate_bp=0, rate_card=CARD)
    ids = await deliver(principal(w.ids["provider"], "provider"), cid, 12,
                        {"housing_entry": 7, "employment": 2})
    boss = principal(w.ids["commissioner"], "commissioner")
    await verification.draw_sample(boss, cid, "seed-0000")  # at 0 %: nothing to verify
    await verification.approve(boss, cid, ids, "")
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "run")
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    await payments.pay_run(boss, run.id)
    return cid


async def others_contract(w, n: int, achieved: int, reference: str) -> UUID:
    """A housing contract of the other commissioner and provider, delivered through the
    intake, its claims left accepted."""
    parties = [(w.ids["other_commissioner"], 10_000)]
    body = contract_body(w.ids["other_provider"], parties, reference=reference)
    body["terms"] = intake_terms(parties, rate_card=CARD[:1])
    created = await service.create_contract(None, msgspec.convert(body, ContractIn))
    await commitments.activate(principal(w.ids["other_commissioner"], "commissioner"),
                               created.id, "signed")
    await deliver(principal(w.ids["other_provider"], "provider"), created.id, n,
                  {"housing_entry": achieved}, prefix=reference)
    return created.id


async def comparison_world(w) -> tuple[UUID, UUID, UUID]:
    """Our contract, the other commissioner's large one, and its small one (three people)."""
    ours = await effect_contract(w)
    large = await others_contract(w, 14, 6, "OTHER-LARGE")
    small = await others_contract(w, 3, 1, "OTHER-SMALL")
    return ours, large, small


def text_of(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return text.replace("\xa0", " ")


def attachments_of(pdf: bytes) -> dict[str, bytes]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return {name: spec.get_file().read_bytes() for name, spec in doc.attachments.items()}


def written(value: str) -> str:
    """A figure as the text extraction gives it: no-break spaces read as spaces."""
    return re.escape(value.replace("\xa0", " "))


def kroner(amount: int) -> str:
    """An amount in a column headed DKK, in Danish."""
    return written(money(amount, "DKK", "da", unit=False))


def section(text: str, start: str, end: str | None = None) -> str:
    body = text[text.index(start):]
    return body[:body.index(end)] if end and end in body else body


def assert_prints(text: str, effect, lang: str) -> None:
    """Every figure of each line's table, as the report writes it, is the service's."""
    c = effect.currency
    for line_, after in zip(effect.lines, [*effect.lines[1:], None], strict=True):
        part = section(text, f"Line {line_.line_code}: ",
                       f"Line {after.line_code}: " if after else "Liability forecast")
        f = line_.total
        expected = {
            "Enrolled": count(f.enrolled, lang), "Observed": count(f.observed, lang),
            "Achieved": count(f.achieved, lang), "Rate": percent(f.rate, lang),
            r"95 % interval \(Wilson\)": interval(f.rate_low, f.rate_high, lang),
            "Uplift": points(f.uplift, lang),
            "Paid": money(f.paid.amount, c, lang), "Accrued": money(f.accrued.amount, c, lang),
        }
        if f.target is not None:
            expected["Target"] = count(f.target, lang)
            expected["Progress"] = percent(f.progress, lang)
        for label, value in expected.items():
            assert re.search(rf"{label}\s+{written(value)}", part), (line_.line_code, label,
                                                                     value, part)
        if f.cost_per_outcome is not None:
            cost = written(money(f.cost_per_outcome.amount, c, lang))
            assert re.search(rf"Cost per outcome\s+{cost}", part)
        if f.cost_per_additional is not None:
            assert re.search(written(money(f.cost_per_additional.amount, c, lang)), part)
        else:
            sentence = effect.undefined[f.cost_per_additional_undefined]
            assert sentence in re.sub(r"\s+", " ", part), (line_.line_code, sentence)


async def test_the_reports_figures_are_the_services(db):
    w = await world()
    cid = await effect_contract(w)
    reader = principal(w.ids["commissioner"], "commissioner")
    effect = await effects.contract_effect(reader, cid)
    entry, job = (line_.total for line_ in effect.lines)
    # What happened: 7 of 12 entered housing against a target of 10 and a baseline of 30 %.
    assert (entry.enrolled, entry.observed, entry.achieved, entry.target) == (12, 12, 7, 10)
    assert entry.paid.amount == 7 * 1_500_000 and entry.cost_per_outcome.amount == 1_500_000
    assert entry.cost_per_additional is not None  # 7 against the 3.6 the baseline predicts
    assert job.uplift_method == "newcombe" and job.cost_per_additional is None
    report = await contract_report(reader, cid)
    assert report.lang == "da"  # DKK
    pdf = report_pdf(report)
    text = text_of(pdf)
    assert_prints(text, effect, "da")
    # The money against the cap, and the liability forecast's quarters.
    assert re.search(rf"{written(money(effect.cap.amount, 'DKK', 'da'))}\s+"
                     rf"{written(money(effect.committed.amount, 'DKK', 'da'))}\s+"
                     rf"{written(money(effect.accrued.amount, 'DKK', 'da'))}\s+"
                     rf"{written(money(effect.paid.amount, 'DKK', 'da'))}", text)
    forecast = await effects.liability_forecast(reader, contract_id=cid)
    [quarters] = [c.quarters for c in forecast.contracts]
    assert quarters  # ten participants' employment windows stay open to the deadline
    for q in quarters:
        assert re.search(rf"{q.quarter}\s+{kroner(q.expected.amount)}\s+{kroner(q.p90.amount)}",
                         text)
    # The method paragraphs, the breakdowns, the chart's text.
    flat = re.sub(r"\s+", " ", text)
    assert effects.METHOD[:120] in flat and "Virker simulates the outcome payments" in flat
    for heading in ("Cohort", "Age band", "Area", "Enrolment quarter"):
        assert heading in text
    assert "rate of observed participants" in text


async def test_the_report_is_pdf_a_3u_with_the_json_attached(db):
    w = await world()
    cid = await effect_contract(w)
    reader = principal(w.ids["provider"], "provider")
    pdf = report_pdf(await contract_report(reader, cid, lang="en"))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        meta = doc.open_metadata()
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "U"
        assert str(doc.Root.Lang) == "en"
        assert str(doc.docinfo["/Title"]).startswith("Effect report C-")
        assert {str(f.F) for f in doc.Root.AF} == set(doc.attachments)
        assert {str(f.AFRelationship) for f in doc.Root.AF} == {"/Data"}
    files = attachments_of(pdf)
    assert set(files) == {"effect.json", "forecast.json", "figures.csv"}
    effect = await effects.contract_effect(reader, cid)
    assert json.loads(files["effect.json"]) == msgspec.to_builtins(effect)
    forecast = await effects.liability_forecast(reader, contract_id=cid)
    assert json.loads(files["forecast.json"]) == msgspec.to_builtins(forecast)
    figures = pd.read_csv(io.BytesIO(files["figures.csv"]), keep_default_na=False)
    totals = figures[figures["dimension"] == ""].set_index("line_code")
    assert totals.loc["entry", "achieved"] == 7 and totals.loc["entry", "paid"] == 10_500_000
    ages = figures[(figures["line_code"] == "entry") & (figures["dimension"] == "age_band")]
    assert ages["enrolled"].astype(int).sum() == 12
    # In English the same figures read the English way.
    assert_prints(text_of(pdf), effect, "en")


async def test_a_portfolio_report_holds_each_contract_the_commissioner_pays_for(db):
    w = await world()
    first = await effect_contract(w)
    second = await active_contract(w)  # nobody enrolled yet
    boss = principal(w.ids["commissioner"], "commissioner")
    report = await portfolio_report(boss, w.ids["commissioner"])
    assert {e.contract_id for e in report.effects} == {first, second}
    references = [e.reference for e in report.effects]
    assert references == sorted(references)  # by reference, never by performance
    pdf = report_pdf(report)
    files = attachments_of(pdf)
    alone = [await effects.contract_effect(boss, e.contract_id) for e in report.effects]
    assert json.loads(files["effect.json"]) == msgspec.to_builtins(alone)
    forecast = await effects.liability_forecast(boss, organisation_id=w.ids["commissioner"])
    assert json.loads(files["forecast.json"]) == msgspec.to_builtins(forecast)
    text = text_of(pdf)
    for effect in alone:
        assert f"Contract {effect.reference}" in text
    assert_prints(section(text, f"Contract {alone[0].reference}"), alone[0], "da")
    for q in forecast.portfolio:
        assert re.search(rf"{q.quarter}\s+{kroner(q.expected.amount)}", text)


def funnel_parts(svg: str) -> tuple[dict[str, str], str]:
    """The labels of the points drawn (by point id), and all the SVG's text."""
    root = ET.fromstring(svg)
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}
    points_ = sorted(k for k in groups if k.startswith("funnel-point-"))
    labels = {}
    for key in points_:
        label = groups[key.replace("point", "label")]
        labels[key] = "".join(label.itertext()).strip()
    return labels, " ".join(t.strip() for t in root.itertext() if t.strip())


async def test_the_funnel_draws_each_contract_shown_and_no_suppressed_one(db):
    w = await world()
    ours, large, small = await comparison_world(w)
    reader = principal(w.ids["commissioner"], "commissioner")
    comparison = await effects.comparison(reader, "housing_entry")
    by_id = {u.contract_id: u for u in comparison.units}
    assert by_id[small].figures.suppressed and not by_id[ours].figures.suppressed
    labels, text = funnel_parts(await funnel(reader, "housing_entry"))
    shown = [by_id[c].reference for c in (ours, large)]
    assert sorted(labels.values()) == sorted(shown)  # one labelled point each
    assert "OTHER-SMALL" not in text
    assert "1 contract not shown: fewer than 5 people" in text
    assert "pooled rate" in text and "99.8 % limits" in text
    # The other commissioner is a party to the small contract: it sees it, and not ours'
    # small cells, of which there are none.
    theirs = principal(w.ids["other_commissioner"], "commissioner")
    labels, text = funnel_parts(await funnel(theirs, "housing_entry"))
    assert sorted(labels.values()) == sorted([*shown, "OTHER-SMALL"])
    assert "not shown: fewer than" not in text


def virker(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {"VIRKER_DATABASE_URL": url, "PATH": "/usr/bin:/bin",
           "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"]}
    return subprocess.run([VIRKER, *args], capture_output=True, text=True, check=False,
                          env=env, timeout=120)


async def test_virker_effect_prints_the_figures_and_writes_the_report(db, tmp_path):
    w = await world()
    ours, _, _ = await comparison_world(w)
    admin = principal(w.ids["admin"], "admin")
    effect = await effects.contract_effect(admin, ours)
    done = virker("effect", effect.reference, url=db.url)
    assert done.returncode == 0, done.stderr
    out = done.stdout.replace("\xa0", " ")
    entry = effect.lines[0].total
    assert re.search(rf"rate\s+{written(percent(entry.rate, 'da'))} \(95 %: "
                     rf"{written(interval(entry.rate_low, entry.rate_high, 'da'))}\)", out)
    assert re.search(rf"target\s+10 \(progress {written(percent(entry.progress, 'da'))}\)", out)
    assert re.search(rf"cost per outcome\s+{written(money(1_500_000, 'DKK', 'da'))}", out)
    assert effect.undefined["no_uplift"] in out  # the employment line's
    as_json = virker("effect", str(ours), "--json", url=db.url)
    assert json.loads(as_json.stdout) == msgspec.to_builtins(effect)
    target = tmp_path / "effect.pdf"
    written_pdf = virker("effect", str(ours), "--pdf", str(target), url=db.url)
    assert written_pdf.returncode == 0, written_pdf.stderr
    with pikepdf.open(target) as doc:
        assert set(doc.attachments) == {"effect.json", "forecast.json", "figures.csv"}
    missing = virker("effect", "NO-SUCH", url=db.url)
    assert missing.returncode == 1 and "contract_not_found" in missing.stderr

    advice = await effects.advise(admin, "housing_entry")
    done = virker("advise", "housing_entry", "--shift", "0.05", url=db.url)
    assert done.returncode == 0, done.stderr
    blocks = [b for b in done.stdout.split("\n\n")[1:] if b.strip()]
    # One block per contract, in the service's order (by reference), never by performance.
    assert [b.splitlines()[0].split(" · ")[0] for b in blocks] == [
        u.reference for u in advice.units]
    for block, unit in zip(blocks, advice.units, strict=True):
        assert re.search(rf"band\s+{unit.band}", block)
        assert unit.volume is not None  # the administrator sees every contract's
        assert re.search(rf"volume\s+{unit.volume} next period, change "
                         rf"{re.escape(f'{unit.volume_change:+d}')}", block)
        assert re.search(r"reprice\s+(no|yes)", block)
    bad = virker("advise", "housing_entry", "--shift", "0.5", url=db.url)
    assert bad.returncode == 1 and "invalid_field" in bad.stderr
