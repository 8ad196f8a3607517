"""Citizen voice for a contract's parties: its survey waves with their response rates, the
results with their intervals (suppressed below k), change between timepoints, continuity
(one contact person) over time, "you said, we did", and the instruments' attributions; and
the work on it, each for the party whose work it is.

- The commissioner opens waves, adds an instrument it holds a licence for, moderates the
  comments (HTMX swaps the row it decided; without JavaScript the form posts and the list
  comes back), publishes "you said, we did" per wave, and deletes a participant's answers
  on request.
- The provider (lead or partner) asks for links for its participants and records answers
  collected on paper or in conversation by uploading a CSV (the API's columns).
- The auditor reads the results and the deletion records; it changes nothing.

Every figure and every refusal comes from `voice.service` and `voice.figures`, which check
the role again: the pages only leave out the buttons a reader could not use. Links are in
the answer to the request that made them (a page, or a CSV file chosen on the form) and
nowhere else: Virker keeps a hash of each, so no later visit can show them. Citizen voice
never changes a payment.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from api.auth import principal_of
from api.web import forms, i18n
from api.web.admin import status_of
from api.web.i18n import N_
from api.web.layout import WEB, page
from api.web.queue import who
from contracts import service as contracts
from contracts.errors import Conflict, DomainError, Invalid, NotFound, Problem
from contracts.identity import Principal
from core.clock import now
from outcomes import intake
from outcomes.parsing import parse_rows
from outcomes.schemas import MAX_ROWS
from voice import figures
from voice import service as voice
from voice.instruments import LANGUAGES
from voice.schemas import (
    MAX_INVITATIONS,
    AnswerBackIn,
    DeletionIn,
    InstrumentIn,
    InvitationsIn,
    ModerationIn,
    VoiceResults,
    WaveIn,
    WaveOut,
    WaveResult,
)

# Words that reach the templates as values, translated there.
WORDS = (N_("scheduled"), N_("open"), N_("removed"), N_("none"), N_("created"))
COMMENT_FILTERS = ("pending", "approved", "rejected", "all")
TIMEPOINTS = ("enrolment", "exit", "days_after_enrolment")
DONE = ("opened", "answered", "instrument")
BODY_LIMIT = 8 * 1024 * 1024  # a CSV of answers, as the API takes it


def _text(form: Any, name: str, limit: int = 4_000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def said(problem: Problem) -> Problem:
    """A service's problem in the reader's language, where its code has words here."""
    _ = i18n._
    words = {
        "wave_dates": _("A wave closes on or after the day it opens."),
        "days_required": _("Say how many days after enrolment to ask."),
        "days_not_allowed": _("Days go only with the timepoint \u201cdays after "
                              "enrolment\u201d: leave the field empty."),
        "instrument_not_found": _("Choose an instrument from the list."),
        "instrument_exists": _("This code is taken: give the instrument a code of its own."),
        "reserved_item_code": _("This code names a column of a batch of answers: choose "
                                "another."),
        "invalid_scale": _("The highest answer must be above the lowest."),
        "duplicate_item": _("Two items have the same code."),
        "participant_not_found": _("No participant has this pseudonym on the contract."),
        "duplicate_pseudonym": _("This pseudonym is already in the list."),
        "not_yet_enrolled": _("The participant is not enrolled yet."),
        "personal_identifier": _("This looks like a personal identifier, not a pseudonym: "
                                 "nothing was kept."),
        "invalid_pseudonym": _("A pseudonym is one word of letters, digits and _ . : # / - "
                               "(at most 64)."),
        "wave_not_open": _("Links are given only while the wave is open."),
        "contract_not_active": _("The contract is not active: it takes no answers now."),
        "confirmation_required": _("Tick the box to confirm."),
        "answer_out_of_range": _("The answer is not on the question's scale."),
        "unknown_item": _("The questionnaire has no such question."),
        "no_answers": _("No question was answered."),
        "outside_wave": _("The answer is dated outside the wave, or in the future."),
        "already_answered": _("This participant has already answered the wave."),
        "anonymous_with_pseudonym": _("An anonymous answer carries no pseudonym: leave it "
                                      "empty."),
        "pseudonym_required": _("Give the participant's pseudonym, or mark the answer "
                                "anonymous."),
        "not_yet_due": _("Not due yet: the wave asks a number of days after enrolment."),
    }
    text = words.get(problem.code)
    return msgspec.structs.replace(problem, message=text) if text else problem


def _problems(exc: DomainError, default_field: str | None = None) -> list[Problem]:
    found = exc.problems or [Problem(code=exc.code, field=default_field, message=exc.message)]
    return [said(p) for p in found]


def _refusal(exc: DomainError) -> DomainError:
    """A refusal that belongs on the form (a value the reader can change) is shown there;
    one about who may do what, or what does not exist, is the error page."""
    if isinstance(exc, Invalid | Conflict):
        return exc
    raise exc


async def _contract(principal: Principal, contract_id: UUID) -> tuple[Any, str]:
    row, rel = await contracts.relation(principal, contract_id)
    return await contracts.contract_out(row), rel


async def _wave(principal: Principal, contract_id: UUID, wave_id: UUID,
                role: str | None = None) -> WaveOut:
    """The contract's wave `wave_id`, when the caller may see it (and holds `role`)."""
    row = await voice.wave_row(principal, wave_id, role)
    if row["contract"] != contract_id:
        raise NotFound("no such survey wave", code="wave_not_found")
    return await voice.get_wave(principal, wave_id)


# Figures as the pages show them -----------------------------------------------------------


@dataclass
class Bar:
    """One quarter of the continuity chart (inline SVG, no script)."""

    label: str
    x: float
    width: float
    y: float
    height: float
    low_y: float | None
    high_y: float | None
    text: str


CHART_W, CHART_LEFT, CHART_TOP, CHART_BOTTOM = 560, 48, 24, 170


def continuity_bars(points: list, k: int) -> list[Bar]:
    """The continuity points as bars on a 0-100 % scale. With many quarters, every n-th
    is named below its bar, and the values are left to the table."""
    if not points:
        return []
    step = min(80.0, (CHART_W - CHART_LEFT - 8) / len(points))
    scale = CHART_BOTTOM - CHART_TOP
    every = max(1, math.ceil(44 / step))
    bars = []
    for i, p in enumerate(points):
        x = CHART_LEFT + 8 + i * step
        width = round(step * 0.7, 1)
        label = p.quarter if i % every == 0 else ""
        if p.suppressed or p.share is None:
            bars.append(Bar(label=label, x=x, width=width, y=CHART_BOTTOM, height=0,
                            low_y=None, high_y=None,
                            text=(f"< {k}" if p.suppressed else "–") if step >= 36 else ""))
            continue
        height = max(0.0, min(1.0, p.share)) * scale
        bars.append(Bar(
            label=label, x=x, width=width, y=CHART_BOTTOM - height, height=height,
            low_y=None if p.low is None else CHART_BOTTOM - p.low * scale,
            high_y=None if p.high is None else CHART_BOTTOM - p.high * scale,
            text=i18n.percent(p.share) if step >= 36 else ""))
    return bars


@dataclass
class WaveView:
    wave: WaveOut
    result: WaveResult | None


@dataclass
class VoiceSummary:
    """What the contract overview shows of citizen voice."""

    waves: list[WaveView]
    results: VoiceResults
    continuity: Any | None  # the latest continuity point with a figure (else the latest)
    bars: list[Bar] = field(default_factory=list)


async def summary(principal: Principal, contract_id: UUID) -> VoiceSummary:
    waves = await voice.waves(principal, contract_id)
    results = await figures.contract_voice(principal, contract_id, i18n.current.get())
    by_id = {w.wave_id: w for w in results.waves}
    shown = [p for p in results.continuity if p.share is not None and not p.suppressed]
    latest = shown[-1] if shown else (results.continuity[-1] if results.continuity else None)
    return VoiceSummary(waves=[WaveView(w, by_id.get(w.id)) for w in waves], results=results,
                        continuity=latest,
                        bars=continuity_bars(results.continuity, results.k))


# The contract's citizen voice --------------------------------------------------------------


@get("/contracts/{contract_id:uuid}/voice", opt=WEB, include_in_schema=False)
async def voice_page(request: Request, contract_id: FromPath[UUID],
                     done: FromQuery[str | None] = None) -> Template:
    principal = principal_of(request)
    contract, rel = await _contract(principal, contract_id)
    voice_summary = await summary(principal, contract_id)
    pending = 0
    if rel == "commissioner":
        pending = len(await voice.comments(principal, contract_id, status="pending"))
    deletions = await voice.deletions(principal, contract_id)
    attributions = list(dict.fromkeys(
        (w.instrument_name, w.attribution) for w in voice_summary.results.waves))
    titles = {w.wave.id: w.wave.title for w in voice_summary.waves}
    return await page(request, "web/survey.html", contract=contract, rel=rel,
                      summary=voice_summary, results=voice_summary.results,
                      pending=pending, deletions=deletions[::-1], attributions=attributions,
                      titles=titles, done=done if done in DONE else None,
                      title=f"{contract.reference} · {i18n._('Citizen voice')}")


# Opening a wave ----------------------------------------------------------------------------


def _wave_defaults() -> dict[str, str]:
    today = now().date()
    return {"title": "", "instrument": "", "timepoint": "enrolment", "days": "",
            "opens_on": today.isoformat(),
            "closes_on": (today + dt.timedelta(days=30)).isoformat(),
            "link_days": "30", "retention_days": "365"}


def _bounded(r: forms.Reader, text: str, where: str, low: int, high: int) -> int | None:
    value = r.whole(text, where)
    if value is not None and not low <= value <= high:
        r.problem("out_of_range", where, i18n._("From %(low)s to %(high)s.", low=low,
                                                 high=high))
        return None
    return value


def read_wave(form: Any, lang: str) -> tuple[WaveIn | None, list[Problem], dict[str, str]]:
    """The wave typed on the form, or the problems beside the fields that keep it from
    being one; and what was typed, to show the form again."""
    values = {k: _text(form, k, 400) for k in _wave_defaults()}
    r = forms.Reader(lang, "DKK", i18n._)
    body = {
        "title": r.required(values["title"], "title"),
        "instrument": values["instrument"] or None,
        "timepoint": values["timepoint"] if values["timepoint"] in TIMEPOINTS else None,
        "days": _bounded(r, values["days"], "days", 1, 3650),
        "opens_on": r.date(values["opens_on"], "opens_on", required=True),
        "closes_on": r.date(values["closes_on"], "closes_on", required=True),
        "link_days": _bounded(r, values["link_days"], "link_days", 1, 365),
        "retention_days": _bounded(r, values["retention_days"], "retention_days", 0, 3650),
    }
    if body["instrument"] is None:
        r.problem("required", "instrument", i18n._("Choose an instrument from the list."))
    if body["timepoint"] is None:
        r.problem("required", "timepoint", i18n._("Choose when to ask."))
    if r.problems:
        return None, r.problems, values
    try:
        wave = msgspec.convert({k: v for k, v in body.items() if v is not None}, WaveIn)
    except msgspec.ValidationError as exc:
        return None, [forms.struct_problem(str(exc), "", i18n._)], values
    return wave, [], values


async def _wave_form(request: Request, contract_id: UUID, *, status_code: int = 200,
                     values: dict[str, str] | None = None, errors: list[Problem] | None = None,
                     done: str | None = None) -> Template:
    principal = principal_of(request)
    contract, _ = await _contract(principal, contract_id)
    await contracts.require_commissioner(principal, contract_id)
    instruments = await voice.instruments(principal)
    return await page(request, "web/survey_wave_new.html", status_code=status_code,
                      contract=contract, instruments=instruments,
                      values={**_wave_defaults(), **(values or {})}, errors=errors or [],
                      done=done, lang=i18n.current.get(),
                      title=i18n._("Open a survey wave"))


@get("/contracts/{contract_id:uuid}/voice/waves/new", opt=WEB, include_in_schema=False)
async def new_wave(request: Request, contract_id: FromPath[UUID],
                   instrument: FromQuery[str | None] = None,
                   done: FromQuery[str | None] = None) -> Template:
    values = {"instrument": instrument[:64]} if instrument else {}
    return await _wave_form(request, contract_id, values=values,
                            done=done if done in DONE else None)


@post("/contracts/{contract_id:uuid}/voice/waves", opt=WEB, include_in_schema=False,
      status_code=303)
async def open_wave(request: Request, contract_id: FromPath[UUID]) -> Response:
    principal = principal_of(request)
    await contracts.require_commissioner(principal, contract_id)
    wave, errors, values = read_wave(await request.form(), i18n.current.get())
    if wave is not None:
        try:
            await voice.create_wave(principal, contract_id, wave)
        except (Invalid, NotFound) as exc:
            if isinstance(exc, NotFound) and exc.code != "instrument_not_found":
                raise
            errors = _problems(exc, "instrument")
        else:
            return Redirect(f"/contracts/{contract_id}/voice?done=opened", status_code=303)
    return await _wave_form(request, contract_id, status_code=422, values=values,
                            errors=errors)


# Adding a licensed instrument --------------------------------------------------------------

INSTRUMENT_FIELDS = ("code", "name", "licence", "attribution", "scoring", "factor",
                     "measure_code", "measure_da", "measure_nb", "measure_en", "measure_min",
                     "measure_max", "better", "intro_da", "intro_nb", "intro_en", "items")
# Where a problem of the instrument is shown on the form.
_PLACES = {"measure.code": "measure_code", "measure.name": "measure_en",
           "measure.minimum": "measure_min", "measure.maximum": "measure_max",
           "measure.better": "better", "introduction": "intro_en"}
_ITEM_AT = re.compile(r"^items\[(\d+)\]")


def _place(problem: Problem) -> Problem:
    """A problem of the instrument beside the form's field for it; an item's problem
    beside the items, saying which line."""
    where = problem.field or ""
    match = _ITEM_AT.match(where)
    if match:
        return msgspec.structs.replace(problem, field="items", message=i18n._(
            "Line %(n)s: %(problem)s", n=int(match[1]) + 1, problem=problem.message))
    for key, place in _PLACES.items():
        if where == key or where.startswith(key + "."):
            return msgspec.structs.replace(problem, field=place)
    return problem


def read_items(text: str, r: forms.Reader) -> list[dict]:
    """The items typed one per line: `code | lowest | highest | Danish | Norwegian |
    English`, with `| reverse` at the end for an item scored the other way round."""
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        reverse = len(parts) == 7 and parts[6].lower() in ("reverse", "r", "omvendt")
        if len(parts) not in (6, 7) or (len(parts) == 7 and not reverse):
            r.problem("invalid_item", "items", i18n._(
                "Line %(n)s: write code | lowest | highest | Danish | Norwegian | English, "
                "with | reverse at the end for an item scored the other way round.", n=n))
            continue
        low, high = (r.whole(parts[1], f"items[{len(items)}]"),
                     r.whole(parts[2], f"items[{len(items)}]"))
        items.append({"code": parts[0], "minimum": low if low is not None else 0,
                      "maximum": high if high is not None else 0,
                      "text": {"da": parts[3], "nb": parts[4], "en": parts[5]},
                      "reverse": reverse})
    if not items and not any(p.field == "items" for p in r.problems):
        r.problem("required", "items", i18n._("Write at least one item."))
    return items


def read_instrument(form: Any, lang: str) -> tuple[InstrumentIn | None, list[Problem],
                                                    dict[str, str]]:
    values = {k: _text(form, k, 60_000 if k == "items" else 2_000)
              for k in INSTRUMENT_FIELDS}
    r = forms.Reader(lang, "DKK", i18n._)
    items = read_items(values["items"], r)
    factor = r.decimal_text(values["factor"], "factor") if values["factor"] else "1"
    scoring = values["scoring"] if values["scoring"] in ("sum", "mean") else None
    if scoring is None:
        r.problem("required", "scoring", i18n._("Choose sum or mean."))
    names = {lang_: r.required(values[f"measure_{lang_}"], f"measure_{lang_}")
             for lang_ in LANGUAGES}
    low = r.decimal_text(values["measure_min"], "measure_min")
    high = r.decimal_text(values["measure_max"], "measure_max")
    if items and factor is not None and scoring and (low is None or high is None):
        # Left empty: the range the scoring gives.
        lows, highs = [i["minimum"] for i in items], [i["maximum"] for i in items]
        f = float(factor)
        span = ((sum(lows), sum(highs)) if scoring == "sum"
                else (sum(lows) / len(lows), sum(highs) / len(highs)))
        low = str(span[0] * f) if low is None else low
        high = str(span[1] * f) if high is None else high
    intro = [values[f"intro_{x}"] for x in LANGUAGES]
    if any(intro) and not all(intro):
        r.problem("required", "intro_en",
                  i18n._("Write the introduction in all three languages, or in none."))
    body = {
        "code": r.required(values["code"], "code"),
        "name": r.required(values["name"], "name"),
        "licence": r.required(values["licence"], "licence"),
        "attribution": r.required(values["attribution"], "attribution"),
        "items": items, "scoring": scoring,
        "factor": float(factor) if factor is not None else None,
        "measure": {"code": values["measure_code"] or values["code"] or "score",
                    "name": names, "minimum": float(low) if low is not None else None,
                    "maximum": float(high) if high is not None else None,
                    "better": values["better"] if values["better"] in ("higher", "lower")
                    else "higher"},
        "introduction": dict(zip(LANGUAGES, intro, strict=True)) if all(intro) else None,
    }
    if r.problems:
        return None, [_place(p) for p in r.problems], values
    try:
        return msgspec.convert(body, InstrumentIn), [], values
    except msgspec.ValidationError as exc:
        return None, [_place(forms.struct_problem(str(exc), "", i18n._))], values


async def _instrument_form(request: Request, contract_id: UUID, *, status_code: int = 200,
                           values: dict[str, str] | None = None,
                           errors: list[Problem] | None = None) -> Template:
    principal = principal_of(request)
    contract, _ = await _contract(principal, contract_id)
    await contracts.require_commissioner(principal, contract_id)
    defaults = {k: "" for k in INSTRUMENT_FIELDS} | {"scoring": "sum", "factor": "1",
                                                      "better": "higher"}
    return await page(request, "web/survey_instrument_new.html", status_code=status_code,
                      contract=contract, values={**defaults, **(values or {})},
                      errors=errors or [], title=i18n._("Add a licensed instrument"))


@get("/contracts/{contract_id:uuid}/voice/instruments/new", opt=WEB, include_in_schema=False)
async def new_instrument(request: Request, contract_id: FromPath[UUID]) -> Template:
    return await _instrument_form(request, contract_id)


@post("/contracts/{contract_id:uuid}/voice/instruments", opt=WEB, include_in_schema=False,
      status_code=303)
async def add_instrument(request: Request, contract_id: FromPath[UUID]) -> Response:
    principal = principal_of(request)
    await contracts.require_commissioner(principal, contract_id)
    body, errors, values = read_instrument(await request.form(), i18n.current.get())
    status = 422
    if body is not None:
        try:
            added = await voice.add_instrument(principal, body)
        except (Invalid, Conflict) as exc:
            errors, status = [_place(p) for p in _problems(exc, "code")], status_of(exc)
        else:
            return Redirect(f"/contracts/{contract_id}/voice/waves/new?instrument="
                            f"{added.code}&done=instrument", status_code=303)
    return await _instrument_form(request, contract_id, status_code=status, values=values,
                                  errors=errors)


# Comments and their moderation -------------------------------------------------------------


async def _comments_context(principal: Principal, contract_id: UUID) -> dict:
    contract, rel = await _contract(principal, contract_id)
    waves = await voice.waves(principal, contract_id)
    return {"contract": contract, "rel": rel, "waves": waves, "who": who,
            "titles": {w.id: w.title for w in waves}}


async def _comment_list(principal: Principal, contract_id: UUID, status: str | None,
                        wave: str | None) -> dict:
    """The comments of one status (and wave) with the count of each status."""
    context = await _comments_context(principal, contract_id)
    status = status if status in COMMENT_FILTERS else "pending"
    wave_id = next((w.id for w in context["waves"] if str(w.id) == wave), None)
    every = await voice.comments(principal, contract_id, wave_id=wave_id)
    counts = {s: sum(1 for c in every if c.status == s) for s in COMMENT_FILTERS}
    counts["all"] = len(every)
    found = [c for c in every if status == "all" or c.status == status]
    return {**context, "comments": found, "status": status, "wave_id": wave_id,
            "counts": counts, "filters": COMMENT_FILTERS}


@get("/contracts/{contract_id:uuid}/voice/comments", opt=WEB, include_in_schema=False)
async def comments_page(request: Request, contract_id: FromPath[UUID],
                        status: FromQuery[str | None] = None,
                        wave: FromQuery[str | None] = None,
                        done: FromQuery[str | None] = None) -> Template:
    context = await _comment_list(principal_of(request), contract_id, status, wave)
    fragment = (request.headers.get("hx-request")
                and not request.headers.get("hx-history-restore-request"))
    template = "web/survey_comments_list.html" if fragment else "web/survey_comments.html"
    return await page(request, template, done=done if done in ("approved", "rejected") else None,
                      title=i18n._("Comments"), **context)


@post("/contracts/{contract_id:uuid}/voice/comments/{response_id:uuid}", opt=WEB,
      include_in_schema=False, status_code=303)
async def moderate(request: Request, contract_id: FromPath[UUID],
                   response_id: FromPath[UUID]) -> Response:
    """Approve or reject one comment, then the list it was decided from: HTMX swaps it in
    (the comment leaves the queue of those waiting, the counts follow); a plain form post
    is sent back to it."""
    principal = principal_of(request)
    form = await request.form()
    decision = _text(form, "status", 20)
    if decision not in ("approved", "rejected"):
        raise Invalid("choose approve or reject", code="invalid_field", problems=[Problem(
            code="invalid_field", field="status",
            message=i18n._("Choose approve or reject."))])
    if response_id not in {c.id for c in await voice.comments(principal, contract_id)}:
        raise NotFound("no such comment", code="comment_not_found")
    await voice.moderate(principal, response_id, ModerationIn(status=decision))
    back = _text(form, "back", 20)
    back = back if back in COMMENT_FILTERS else "pending"
    wave = _text(form, "wave", 40)
    wave = wave if _is_uuid(wave) else ""
    if request.headers.get("hx-request"):
        context = await _comment_list(principal, contract_id, back, wave)
        return await page(request, "web/survey_comments_list.html", done=decision,
                          status_code=200, **context)
    query = f"status={back}&done={decision}" + (f"&wave={wave}" if wave else "")
    return Redirect(f"/contracts/{contract_id}/voice/comments?{query}#comments",
                    status_code=303)


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


# "You said, we did" ------------------------------------------------------------------------


async def _answer_back_form(request: Request, contract_id: UUID, wave_id: UUID, *,
                            status_code: int = 200, values: dict | None = None,
                            errors: list[Problem] | None = None) -> Template:
    principal = principal_of(request)
    contract, _ = await _contract(principal, contract_id)
    wave = await _wave(principal, contract_id, wave_id)
    await contracts.require_commissioner(principal, contract_id)
    approved = await voice.comments(principal, contract_id, wave_id=wave_id,
                                    status="approved")
    return await page(request, "web/survey_answer_back.html", status_code=status_code,
                      contract=contract, wave=wave, approved=approved,
                      values=values or {"you_said": wave.you_said or "",
                                        "we_did": wave.we_did or ""},
                      errors=errors or [], title=i18n._("You said, we did"))


@get("/contracts/{contract_id:uuid}/voice/waves/{wave_id:uuid}/answer-back", opt=WEB,
     include_in_schema=False)
async def answer_back_page(request: Request, contract_id: FromPath[UUID],
                           wave_id: FromPath[UUID]) -> Template:
    return await _answer_back_form(request, contract_id, wave_id)


@post("/contracts/{contract_id:uuid}/voice/waves/{wave_id:uuid}/answer-back", opt=WEB,
      include_in_schema=False, status_code=303)
async def answer_back(request: Request, contract_id: FromPath[UUID],
                      wave_id: FromPath[UUID]) -> Response:
    principal = principal_of(request)
    await _wave(principal, contract_id, wave_id, "commissioner")
    form = await request.form()
    values = {"you_said": _text(form, "you_said", 5_000), "we_did": _text(form, "we_did", 5_000)}
    errors = []
    for name, text in values.items():
        if len(text) < 3:
            errors.append(Problem(code="required", field=name,
                                  message=i18n._("Write at least a sentence.")))
        elif len(text) > 4_000:
            errors.append(Problem(code="too_long", field=name,
                                  message=i18n._("At most 4,000 characters.")))
    if not errors:
        try:
            body = msgspec.convert(values, AnswerBackIn)
        except msgspec.ValidationError as exc:
            errors = [forms.struct_problem(str(exc), "", i18n._)]
        else:
            await voice.answer_back(principal, wave_id, body)
            return Redirect(f"/contracts/{contract_id}/voice?done=answered#wave-{wave_id}",
                            status_code=303)
    return await _answer_back_form(request, contract_id, wave_id, status_code=422,
                                   values=values, errors=errors)


# Links for a wave (the provider) -----------------------------------------------------------


def read_pseudonyms(text: str) -> list[str]:
    """One pseudonym a line (a first line `pseudonym`, a CSV's header, is left out)."""
    lines = [line.strip().strip('"').strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines and lines[0].lower() == "pseudonym":
        lines = lines[1:]
    return lines


async def _links_form(request: Request, contract_id: UUID, wave_id: UUID, *,
                      status_code: int = 200, pseudonyms: str = "",
                      errors: list[Problem] | None = None) -> Template:
    principal = principal_of(request)
    contract, _ = await _contract(principal, contract_id)
    wave = await _wave(principal, contract_id, wave_id, "provider")
    return await page(request, "web/survey_links.html", status_code=status_code,
                      contract=contract, wave=wave, pseudonyms=pseudonyms,
                      errors=errors or [], most=MAX_INVITATIONS,
                      title=i18n._("Links for %(wave)s", wave=wave.title))


@get("/contracts/{contract_id:uuid}/voice/waves/{wave_id:uuid}/links", opt=WEB,
     include_in_schema=False)
async def links_page(request: Request, contract_id: FromPath[UUID],
                     wave_id: FromPath[UUID]) -> Template:
    """The form only: links made earlier are not kept, so no visit here can show them."""
    return await _links_form(request, contract_id, wave_id)


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not read as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@post("/contracts/{contract_id:uuid}/voice/waves/{wave_id:uuid}/links", opt=WEB,
      include_in_schema=False, status_code=201)
async def make_links(request: Request, contract_id: FromPath[UUID],
                     wave_id: FromPath[UUID]) -> Response:
    """One link per pseudonym, in this answer only: a page, or a CSV file when asked for
    (pseudonym, link, expires_on, and the problem where no link was made)."""
    principal = principal_of(request)
    wave = await _wave(principal, contract_id, wave_id, "provider")
    form = await request.form()
    typed = _text(form, "pseudonyms", 400_000)
    wanted = read_pseudonyms(typed)
    errors = []
    if not wanted:
        errors.append(Problem(code="required", field="pseudonyms",
                              message=i18n._("Write at least one pseudonym.")))
    elif len(wanted) > MAX_INVITATIONS:
        errors.append(Problem(code="too_many", field="pseudonyms", message=i18n._(
            "At most %(n)s pseudonyms at a time.", n=i18n.number(MAX_INVITATIONS))))
    if not errors:
        try:
            body = msgspec.convert({"pseudonyms": wanted}, InvitationsIn)
            report = await voice.invite(principal, wave_id, body,
                                        str(request.base_url).rstrip("/"))
        except msgspec.ValidationError as exc:
            return await _links_form(request, contract_id, wave_id, status_code=422,
                                     pseudonyms=typed, errors=[forms.struct_problem(
                                         str(exc), "pseudonyms", i18n._)])
        except (Invalid, Conflict) as exc:
            return await _links_form(request, contract_id, wave_id,
                                     status_code=status_of(exc), pseudonyms=typed,
                                     errors=_problems(exc, "pseudonyms"))
        rows = [msgspec.structs.replace(r, errors=[said(p) for p in r.errors])
                for r in report.results]
        if _text(form, "format", 10) == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(["pseudonym", "link", "expires_on", "problem"])
            for r in rows:
                writer.writerow([_cell(r.pseudonym), r.link or "",
                                 r.expires_on.isoformat() if r.expires_on else "",
                                 "; ".join(f"{p.code}: {p.message}" for p in r.errors)])
            name = f"links-{re.sub(r'[^A-Za-z0-9]+', '-', wave.title).strip('-')[:40] or 'wave'}"
            return Response(out.getvalue(), status_code=200, media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition":
                                     f'attachment; filename="{name}-{now().date()}.csv"',
                                     "Cache-Control": "no-store"})
        contract, _ = await _contract(principal, contract_id)
        csv_text = "pseudonym,link,expires_on\n" + "".join(
            f"{r.pseudonym},{r.link},{r.expires_on}\n" for r in rows if r.link)
        return await page(request, "web/survey_links_made.html", status_code=201,
                          contract=contract, wave=wave, report=report, rows=rows,
                          csv_text=csv_text, title=i18n._("Links for %(wave)s",
                                                          wave=wave.title))
    return await _links_form(request, contract_id, wave_id, status_code=422,
                             pseudonyms=typed, errors=errors)


# Answers collected on paper (the provider) -------------------------------------------------


async def _instrument_of(principal: Principal, wave_id: UUID):
    row = await voice.wave_row(principal, wave_id)
    return await voice.instrument_of(row["instrument_code"], row["instrument_owner"])


def answer_columns(instrument: Any) -> list[str]:
    return [*voice.row_struct(instrument).__struct_fields__]


async def _answers_form(request: Request, contract_id: UUID, wave_id: UUID, *,
                        status_code: int = 200, errors: list[Problem] | None = None,
                        pasted: str = "") -> Template:
    principal = principal_of(request)
    contract, _ = await _contract(principal, contract_id)
    wave = await _wave(principal, contract_id, wave_id, "provider")
    instrument = await _instrument_of(principal, wave_id)
    return await page(request, "web/survey_answers.html", status_code=status_code,
                      contract=contract, wave=wave, instrument=instrument,
                      columns=answer_columns(instrument), errors=errors or [],
                      pasted=pasted, lang=i18n.current.get(),
                      title=i18n._("Record answers for %(wave)s", wave=wave.title))


@get("/contracts/{contract_id:uuid}/voice/waves/{wave_id:uuid}/answers", opt=WEB,
     include_in_schema=False)
async def answers_page(request: Request, contract_id: FromPath[UUID],
                       wave_id: FromPath[UUID]) -> Template:
    return await _answers_form(request, contract_id, wave_id)


@get("/contracts/{contract_id:uuid}/voice/waves/{wave_id:uuid}/answers.csv", opt=WEB,
     include_in_schema=False)
async def answers_template(request: Request, contract_id: FromPath[UUID],
                           wave_id: FromPath[UUID]) -> Response:
    """An empty CSV with the columns a batch of answers for the wave takes."""
    principal = principal_of(request)
    await _wave(principal, contract_id, wave_id, "provider")
    columns = answer_columns(await _instrument_of(principal, wave_id))
    return Response(",".join(columns) + "\r\n", media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             'attachment; filename="answers-template.csv"'})


@post("/contracts/{contract_id:uuid}/voice/waves/{wave_id:uuid}/answers", opt=WEB,
      include_in_schema=False, status_code=201, request_max_body_size=BODY_LIMIT)
async def record_answers(request: Request, contract_id: FromPath[UUID],
                         wave_id: FromPath[UUID]) -> Response:
    """A CSV of answers (uploaded, or pasted) recorded as the API records it: one batch,
    a report per row. The same file sent again shows its first report and records nothing
    twice (its hash is the batch's Idempotency-Key)."""
    principal = principal_of(request)
    await _wave(principal, contract_id, wave_id, "provider")
    form = await request.form()
    upload = form.get("file")
    body = b""
    if isinstance(upload, UploadFile):
        body = await upload.read()
    pasted = _text(form, "pasted", 4_000_000)
    if not body.strip() and pasted:
        body = pasted.encode()
    if not body.strip():
        return await _answers_form(request, contract_id, wave_id, status_code=422, errors=[
            Problem(code="required", field="file",
                    message=i18n._("Choose a CSV file, or paste its text."))])
    instrument = await _instrument_of(principal, wave_id)
    digest = hashlib.sha256(f"{wave_id}\ntext/csv\n".encode() + body).hexdigest()
    sub = intake.Submission(principal=principal, contract_id=contract_id, kind="responses",
                            idempotency_key=f"web-{digest[:40]}", body_hash=digest)
    try:
        rows = parse_rows(body, "text/csv", voice.row_struct(instrument), MAX_ROWS)
        report, replayed = await voice.record_answers(sub, wave_id, rows)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _answers_form(request, contract_id, wave_id,
                                   status_code=status_of(exc), pasted=pasted,
                                   errors=_problems(exc, "file"))
    contract, _ = await _contract(principal, contract_id)
    wave = await voice.get_wave(principal, wave_id)
    rows_shown = [(r, [said(p) for p in r.errors]) for r in report.results]
    return await page(request, "web/survey_answers_report.html",
                      status_code=200 if replayed else 201, contract=contract, wave=wave,
                      report=report, replayed=replayed, rows=rows_shown,
                      title=i18n._("Answers recorded for %(wave)s", wave=wave.title))


# Deletion on request -----------------------------------------------------------------------


async def _deletions_page(request: Request, contract_id: UUID, *, status_code: int = 200,
                          values: dict | None = None, errors: list[Problem] | None = None,
                          deleted: Any = None) -> Template:
    principal = principal_of(request)
    contract, rel = await _contract(principal, contract_id)
    records = await voice.deletions(principal, contract_id)
    return await page(request, "web/survey_deletions.html", status_code=status_code,
                      contract=contract, rel=rel, records=records[::-1], who=who,
                      may_delete=rel in ("commissioner", "provider", "admin"),
                      values=values or {}, errors=errors or [], deleted=deleted,
                      title=i18n._("Deleting a participant's answers"))


@get("/contracts/{contract_id:uuid}/voice/deletions", opt=WEB, include_in_schema=False)
async def deletions_page(request: Request, contract_id: FromPath[UUID]) -> Template:
    return await _deletions_page(request, contract_id)


@post("/contracts/{contract_id:uuid}/voice/deletions", opt=WEB, include_in_schema=False,
      status_code=201)
async def delete_answers(request: Request, contract_id: FromPath[UUID]) -> Response:
    """Delete every answer given under a pseudonym, after the box is ticked; the page that
    answers shows what Virker recorded of it (who, when, how many: never the answers)."""
    principal = principal_of(request)
    form = await request.form()
    values = {"pseudonym": _text(form, "pseudonym", 200)}
    errors = []
    if not values["pseudonym"]:
        errors.append(Problem(code="required", field="pseudonym",
                              message=i18n._("Write the participant's pseudonym.")))
    if form.get("confirm") != "yes":
        errors.append(said(Problem(code="confirmation_required", field="confirm",
                                   message="tick the box to confirm")))
    if errors:
        return await _deletions_page(request, contract_id, status_code=422, values=values,
                                     errors=errors)
    try:
        body = msgspec.convert(values, DeletionIn)
    except msgspec.ValidationError as exc:
        return await _deletions_page(request, contract_id, status_code=422, values=values,
                                     errors=[forms.struct_problem(str(exc), "", i18n._)])
    try:
        done = await voice.delete_answers(principal, contract_id, body)
    except NotFound as exc:
        if exc.code != "participant_not_found":
            raise
        return await _deletions_page(request, contract_id, status_code=404, values=values,
                                     errors=_problems(exc, "pseudonym"))
    return await _deletions_page(request, contract_id, status_code=201, deleted=done)


ROUTES = [voice_page, new_wave, open_wave, new_instrument, add_instrument, comments_page,
          moderate, answer_back_page, answer_back, links_page, make_links, answers_page,
          answers_template, record_answers, deletions_page, delete_answers]
