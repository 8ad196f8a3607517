"""The participant's page: a person answers a survey wave through the single-use link their
provider gave them (GET and POST /voice/{token}), without an account, a session or
JavaScript, on a phone first.

The token in the address is the capability: the page needs no sign-in and takes no CSRF
token (there is no session to ride). It never puts the token in a link to another page,
and every answer says no-store, no-referrer and noindex. Before the questions it states in
plain words what is collected, why, who reads it, that answering is voluntary and changes
nothing about the person's help, that they may answer anonymously (and what that means for
deleting it later), how long comments are kept and that names and numbers in them are
removed.

The language: `?lang=da|nb|en` (links on the page), else what the browser asks for, else
that of the contract's commissioner (Danish for a Danish one), else English. The questions
are the instrument's own words in that language; everything else comes from the web UI's
catalogues.

A refused answer (out of range, nothing answered, a comment too long) shows the form again
with each problem next to its question and what was chosen kept (422). An answer taken
leads, through a 303, to a thank-you page that needs no token and says nothing about the
answer. A used link is 410, an expired one 410, one Virker never gave 404: each a page in
the reader's language, whatever was sent.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from api.web import i18n
from api.web.layout import WEB
from contracts import service as contracts
from contracts.errors import Conflict, DomainError, Gone, Invalid, NotFound
from contracts.tables import Organisation
from core.settings import get_settings
from voice import service, tokens
from voice.instruments import Instrument, Item
from voice.schemas import AnswerIn, Questionnaire
from voice.tables import Invitation

OPT = {**WEB, "exclude_from_auth": True, "exclude_from_csrf": True}
HEADERS = {"cache-control": "no-store", "referrer-policy": "no-referrer",
           "x-robots-tag": "noindex, nofollow"}
MAX_COMMENT = 2_000
# What is shown back of a comment refused as too long: enough to shorten it, no more.
SHOWN_BACK = 6_000
_WHOLE = re.compile(r"-?[0-9]{1,4}")
# Control characters a comment cannot usefully hold (tab and line breaks are kept).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_YES = ("1", "on", "yes", "true")


# The reader's language ---------------------------------------------------------------------


def _asked_for(header: str) -> str | None:
    """The language the browser asks for, when it asks for one Virker speaks."""
    tags = [part.split(";")[0].strip().lower() for part in header.split(",")]
    if not any(tag.split("-")[0] in ("da", "nb", "nn", "no", "en") for tag in tags):
        return None
    return i18n.from_accept_language(header)


async def _commissioners_language(token: str) -> str | None:
    """The language of the country of the commissioner of the contract the link is for
    (a used or expired link's too: its page is then in that language as well)."""
    if not tokens.looks_like_token(token):
        return None
    row = await Invitation.select(Invitation.wave.contract.as_alias("contract")).where(
        Invitation.token_hash == tokens.token_hash(token)).first()
    if row is None or row["contract"] is None:
        return None
    ids = await contracts.commissioner_ids(row["contract"])
    if not ids:
        return None
    found = await Organisation.select(Organisation.identifier).where(
        Organisation.id == ids[0]).first()
    return i18n.language_of_organisation(found["identifier"]) if found else None


async def _language(request: Request, token: str | None) -> str:
    chosen = request.query_params.get("lang")
    if chosen not in i18n.LANGUAGES:
        chosen = _asked_for(request.headers.get("accept-language", ""))
    if chosen is None and token is not None:
        chosen = await _commissioners_language(token)
    lang = chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT
    # The templates and i18n._ read the request's language from here.
    i18n.current.set(lang)
    return lang


# The form ----------------------------------------------------------------------------------


@dataclass
class Option:
    value: str
    label: str
    hint: str = ""  # words read out with a number (the scale's ends), not shown


@dataclass
class Question:
    """One item as the page shows it: its words, its options, what was chosen, its problem."""

    code: str
    number: int
    text: str
    layout: str  # "words": one labelled option a line; "scale": a grid of numbers
    options: list[Option]
    low: str = ""
    high: str = ""
    chosen: str | None = None
    error: str = ""


@dataclass
class Filled:
    """What the person sent, as they sent it, and what was wrong with it."""

    answers: dict[str, str | None] = field(default_factory=dict)  # None: not sent at all
    anonymous: bool = False
    comment: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # item code (or "comment") → words
    form_errors: list[str] = field(default_factory=list)


def _options(item: Item, lang: str) -> tuple[str, list[Option], str, str]:
    values = list(range(item.minimum, item.maximum + 1))
    if item.labels and len(item.labels) == len(values):
        options = [Option(str(v), label.get(lang)) for v, label in zip(values, item.labels,
                                                                        strict=True)]
        if item.kind == "yes_no":
            options.reverse()  # yes before no, as people expect it
        return "words", options, "", ""
    low = item.low_label.get(lang) if item.low_label else ""
    high = item.high_label.get(lang) if item.high_label else ""
    options = [Option(str(v), str(v)) for v in values]
    options[0].hint, options[-1].hint = low, high
    return "scale", options, low, high


def questions(instrument: Instrument, lang: str, filled: Filled) -> list[Question]:
    out = []
    for n, item in enumerate(instrument.items, start=1):
        layout, options, low, high = _options(item, lang)
        out.append(Question(code=item.code, number=n, text=item.text.get(lang), layout=layout,
                            options=options, low=low, high=high,
                            chosen=filled.answers.get(item.code),
                            error=filled.errors.get(item.code, "")))
    return out


def read_answers(instrument: Instrument, pairs: list[tuple[str, Any]]) -> tuple[Filled,
                                                                                AnswerIn | None]:
    """The form's fields, the first of each name: one per item (a whole number, or empty for
    no answer), `anonymous`, `comment`. Anything else is ignored. Returns what was sent, with
    its problems, and the answer to record when it has none."""
    filled = Filled()
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if isinstance(name, str) and name not in seen:
            seen[name] = value if isinstance(value, str) else ""
    answers: dict[str, int | None] = {}
    for item in instrument.items:
        sent = seen.get(item.code)
        text = _CONTROL.sub("", sent).strip()[:20] if sent is not None else ""
        filled.answers[item.code] = text if sent is not None else None
        if not text:
            answers[item.code] = None
        elif _WHOLE.fullmatch(text) and item.minimum <= int(text) <= item.maximum:
            answers[item.code] = int(text)
        else:
            filled.errors[item.code] = i18n._("Choose one of the answers shown.")
    filled.anonymous = seen.get("anonymous", "").strip().lower() in _YES
    comment = _CONTROL.sub("", seen.get("comment", "").replace("\r\n", "\n")).strip()
    filled.comment = comment[:SHOWN_BACK]
    if len(comment) > MAX_COMMENT:
        filled.errors["comment"] = i18n._(
            "Your comment is %(length)s characters long; at most %(max)s fit. Please "
            "shorten it.", length=i18n.number(len(comment)), max=i18n.number(MAX_COMMENT))
    if not filled.errors and all(v is None for v in answers.values()):
        filled.form_errors.append(i18n._("Answer at least one question before you send."))
    if filled.errors or filled.form_errors:
        return filled, None
    try:
        body = AnswerIn(answers=answers, anonymous=filled.anonymous, comment=comment or None)
    except (ValueError, msgspec.ValidationError):
        filled.form_errors.append(i18n._("What was sent could not be read. Please try again."))
        return filled, None
    return filled, body


def refused(filled: Filled, exc: Invalid) -> None:
    """The service's refusal of an answer, in the reader's words, next to its question."""
    for problem in exc.problems or []:
        item = problem.field.removeprefix("answers.") if problem.field.startswith(
            "answers.") else ""
        if item and item in filled.answers:
            filled.errors[item] = i18n._("Choose one of the answers shown.")
        elif problem.code == "no_answers":
            filled.form_errors.append(i18n._("Answer at least one question before you send."))
    if not filled.errors and not filled.form_errors:
        filled.form_errors.append(i18n._("What was sent could not be read. Please try again."))


# The pages ---------------------------------------------------------------------------------


def _render(template: str, lang: str, status: int = 200, **context: Any) -> Template:
    return Template(f"web/{template}", status_code=status, headers=HEADERS,
                    context={"lang": lang, **context})


def refusal(exc: DomainError, lang: str) -> Template:
    """The page for a link that opens nothing: never given (404), used or expired (410),
    or a second answer from the same person (409)."""
    _ = i18n._
    if isinstance(exc, Gone) and exc.code == "invitation_used":
        title = _("This link has already been used")
        text = _("Each link takes one answer, and this one has been answered. If you did not "
                 "answer it yourself, tell your contact person.")
        status = 410
    elif isinstance(exc, Gone):
        title = _("This link has expired")
        text = _("Ask your contact person for a new link.")
        status = 410
    elif isinstance(exc, Conflict):
        title = _("You have already answered this survey")
        text = _("Each person answers once. Thank you for your answers.")
        status = 409
    else:
        title = _("This link does not work")
        text = _("Check that you have the whole link, as you received it. If it still does "
                 "not work, ask your contact person for a new link.")
        status = 404
    return _render("answer_refused.html", lang, status, title=title, text=text,
                   code=exc.code)


async def _retention(q: Questionnaire) -> dt.date | None:
    return q.comments_deleted_on


async def _form(q: Questionnaire, lang: str, filled: Filled, status: int = 200) -> Template:
    instrument = q.instrument
    shown = questions(instrument, lang, filled)
    problems = [(f"q-{x.code}", f"{x.number}. {x.text}", x.error) for x in shown if x.error]
    if "comment" in filled.errors:
        problems.append(("comment", i18n._("Comment"), filled.errors["comment"]))
    return _render("answer.html", lang, status, q=q, questions=shown, filled=filled,
                   problems=problems,
                   introduction=instrument.introduction.get(lang)
                   if instrument.introduction else "",
                   comments_deleted_on=await _retention(q), k=get_settings().small_cell_k,
                   max_comment=MAX_COMMENT)


def _token(path: Path | str) -> str:
    """The token from the rest of the address: anything under /voice/ is this page's, so that
    a link cut or garbled anywhere (a slash in it too) gets its 404 page."""
    return str(path).lstrip("/")


@get("/voice/thanks", opt=OPT, include_in_schema=False)
async def thanks_page(request: Request) -> Template:
    """The thanks, after an answer: it needs no token and tells nothing of the answer."""
    return _render("answer_thanks.html", await _language(request, None))


@get("/voice/{token:path}", opt=OPT, include_in_schema=False)
async def answer_page(request: Request, token: FromPath[Path]) -> Template:
    token = _token(token)
    lang = await _language(request, token)
    try:
        q = await service.questionnaire(token, lang)
    except (NotFound, Gone) as exc:
        return refusal(exc, lang)
    return await _form(q, lang, Filled())


@post("/voice/{token:path}", opt=OPT, include_in_schema=False, status_code=303)
async def send_answer(request: Request, token: FromPath[Path]) -> Response:
    token = _token(token)
    lang = await _language(request, token)
    try:
        q = await service.questionnaire(token, lang)
    except (NotFound, Gone) as exc:
        return refusal(exc, lang)
    try:
        form = await request.form()
        pairs = list(form.multi_items())
    except Exception:  # a body that is no form (or too large): the form again, empty
        filled = Filled(form_errors=[i18n._("What was sent could not be read. Please try "
                                            "again.")])
        return await _form(q, lang, filled, 400)
    filled, body = read_answers(q.instrument, pairs)
    if body is None:
        return await _form(q, lang, filled, 422)
    try:
        await service.answer(token, body)
    except (NotFound, Gone, Conflict) as exc:
        return refusal(exc, lang)
    except Invalid as exc:
        refused(filled, exc)
        return await _form(q, lang, filled, 422)
    return Redirect(f"/voice/thanks?lang={lang}", status_code=303, headers=HEADERS)


ROUTES = [thanks_page, answer_page, send_answer]
