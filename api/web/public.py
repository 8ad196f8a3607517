"""The public "what works" pages: anyone may read them, without an account.

- /what-works: the outcomes (the metric library's categories, and metrics) that public
  contracts pay for, with how many;
- /what-works/{subject}: per outcome the public contracts listed by reference (never
  ranked), their prices, targets, rates with intervals, effect and place on the funnel plot
  (inline SVG), and what their participants said; the same as CSV
  (/what-works/{subject}.csv) and JSON (/what-works/{subject}.json, and
  /api/v1/what-works/{subject});
- /what-works/feed.atom: the parts newly published (Atom 1.0).

Every figure comes from `opendata.whatworks`, which shows only what commissioners published
and suppresses small cells as the comparison does for a reader who is party to nothing: the
HTML, the CSV and the JSON carry the same numbers. They are read from the read replica when
there is one (`on_replica`), so a part just published appears seconds later. The language:
`?lang=da|nb|en` (the links on the page), else the one chosen on the site, else what the
browser asks for.
"""

from __future__ import annotations

import asyncio
import csv
import io
import xml.etree.ElementTree as ET
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Request, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Response, Template

from api.auth import session_user_id
from api.web import i18n
from api.web.compare import inline_svg
from api.web.layout import WEB, page
from contracts.errors import NotFound
from core.clock import now
from core.database import on_replica
from core.settings import get_settings
from effect.formulas import UNDEFINED
from opendata import whatworks
from opendata.whatworks import PublicUnit, WhatWorks
from reports.chart import funnel_svg
from reports.effect import comparison_curve
from reports.formats import major

OPT = {**WEB, "exclude_from_auth": True}
Lang = Annotated[str | None, QueryParameter(required=False)]
ATOM = "http://www.w3.org/2005/Atom"
CSV_COLUMNS = (
    "subject", "reference", "title", "provider", "line", "metric", "metric_name", "currency",
    "price", "target", "baseline_rate", "enrolled", "observed", "achieved", "rate",
    "rate_low", "rate_high", "progress", "uplift", "uplift_low", "uplift_high", "position",
    "paid", "cost_per_outcome", "suppressed", "published",
)


def _language(request: Request, lang: str | None) -> str:
    """`?lang=` when it names one of the site's languages (the templates and i18n._ read it
    from i18n.current), else the request's (see api.web.layout)."""
    if lang in i18n.LANGUAGES:
        i18n.current.set(lang)
    return i18n.current.get()


def _query(lang: str | None) -> str:
    """What the page's own links carry: the language, when the address chose one."""
    return f"?lang={lang}" if lang in i18n.LANGUAGES else ""


async def _page(request: Request, template: str, lang: str | None, **context: Any
                ) -> Template:
    session = request.scope.get("session")
    return await page(request, template, me=None,
                      signed_in=session_user_id(session) is not None, lang_query=_query(lang),
                      k=get_settings().small_cell_k,
                      chosen=lang if lang in i18n.LANGUAGES else None, **context)


def part_names() -> dict[str, str]:
    _ = i18n._
    return {"contract": _("the contract"), "rate_card": _("the rate card"),
            "targets": _("the targets"), "results": _("the results"),
            "payments": _("the payments"), "voice": _("citizen voice")}


# The pages ---------------------------------------------------------------------------------


@get("/what-works", opt=OPT, include_in_schema=False)
@on_replica
async def index(request: Request, lang: Lang = None) -> Template:
    chosen = _language(request, lang)
    return await _page(request, "web/public_index.html", lang, language=chosen,
                       subjects=await whatworks.subjects())


@get("/what-works/feed.atom", opt=OPT, include_in_schema=False)
@on_replica
async def feed(request: Request, lang: Lang = None) -> Response[bytes]:
    _language(request, lang)
    entries = await whatworks.feed()
    return Response(atom(entries, str(request.base_url).rstrip("/"), _query(lang)),
                    media_type="application/atom+xml; charset=utf-8")


@get("/what-works/{name:str}", opt=OPT, include_in_schema=False)
@on_replica
async def subject_page(request: Request, name: FromPath[str], lang: Lang = None
                       ) -> Response:
    """The outcome `name` as a page, or as CSV or JSON when `name` ends in .csv or .json
    (a subject's own code wins: a metric may have a dot in its code)."""
    chosen = _language(request, lang)
    subject, kind = name, "html"
    for suffix in (".csv", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            subject, kind = name[: -len(suffix)], suffix[1:]
            break
    try:
        read = await whatworks.read(subject, language=chosen)
    except NotFound:
        if kind == "html":
            raise
        read = await whatworks.read(name, language=chosen)
        subject, kind = name, "html"
    figures = read.figures
    if kind == "json":
        return Response(msgspec.json.encode(figures), media_type="application/json")
    if kind == "csv":
        filename = f"what-works-{subject}.csv".replace('"', "")
        return Response(csv_text(figures), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})
    svg = None
    if read.comparison.units:
        drawn = await asyncio.to_thread(funnel_svg, read.comparison,
                                        comparison_curve(read.comparison), chosen)
        svg = inline_svg(drawn, i18n._(
            "Funnel plot of %(subject)s: each contract with published results at its outcome "
            "rate against the participants observed, with the 95 %% and 99.8 %% limits",
            subject=subject))
    return await _page(request, "web/public_subject.html", lang, figures=figures, svg=svg,
                       subject=subject, quoted=quote(subject, safe=""), undefined=UNDEFINED,
                       parts=part_names(), title=_subject_title(figures))


def _subject_title(figures: WhatWorks) -> str:
    if figures.subject_kind == "category":
        return i18n._("What works: %(name)s", name=figures.subject)
    name = figures.metrics[0].name if figures.metrics else figures.subject
    return i18n._("What works: %(name)s", name=name)


# CSV ---------------------------------------------------------------------------------------


def _number(value: float | int | None) -> str:
    return "" if value is None else str(value)


def _money(value: Any) -> str:
    return "" if value is None else str(major(value.amount, value.currency))


def csv_row(subject: str, u: PublicUnit) -> list[str]:
    return [
        subject, u.reference, u.title, u.provider_name, u.line_code, u.metric_code,
        u.metric_name, u.currency, _money(u.price), _number(u.target),
        _number(u.baseline_rate), _number(u.enrolled), _number(u.observed),
        _number(u.achieved), _number(u.rate), _number(u.rate_low), _number(u.rate_high),
        _number(u.progress), _number(u.uplift), _number(u.uplift_low), _number(u.uplift_high),
        u.position or "", _money(u.paid), _money(u.cost_per_outcome),
        "true" if u.suppressed else "false", " ".join(u.published),
    ]


def csv_text(figures: WhatWorks) -> str:
    """One row per public contract's line: rates as shares (0 to 1), money in the
    currency's units (a point before the minor units), empty where a figure is not
    published, suppressed (`suppressed` true) or not there yet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for u in figures.units:
        writer.writerow(csv_row(figures.subject, u))
    return out.getvalue()


# Atom --------------------------------------------------------------------------------------


def _stamp(value) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def atom(entries: list[whatworks.FeedEntry], base: str, query: str = "") -> bytes:
    """An Atom 1.0 feed (RFC 4287) of the parts newly published, newest first: each entry
    with its id, title, updated, a link to the outcome's page and a summary."""
    _ = i18n._
    names = part_names()
    ET.register_namespace("", ATOM)

    def el(parent, tag: str, text: str | None = None, **attrs: str):
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    root = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang":
                                          i18n.current.get()})
    el(root, "id", f"{base}/what-works/feed.atom")
    el(root, "title", _("Virker: what works, newly published"))
    el(root, "subtitle", _("Parts of outcome contracts their commissioners have just "
                           "published: prices, targets, results and what participants "
                           "said."))
    el(root, "updated", _stamp(entries[0].published_at if entries else now()))
    el(el(root, "author"), "name", "Virker")
    el(root, "link", rel="self", href=f"{base}/what-works/feed.atom{query}",
       type="application/atom+xml")
    el(root, "link", rel="alternate", href=f"{base}/what-works{query}", type="text/html")
    for e in entries:
        entry = el(root, "entry")
        el(entry, "id", f"urn:uuid:{e.id}")
        part = names.get(e.part, e.part)
        el(entry, "title", _("%(reference)s: %(part)s published", reference=e.reference,
                             part=part))
        el(entry, "updated", _stamp(e.published_at))
        where = (f"{base}/what-works/{quote(e.subject, safe='')}{query}"
                 f"#contract-{quote(e.reference, safe='')}" if e.subject
                 else f"{base}/what-works{query}")
        el(entry, "link", rel="alternate", href=where, type="text/html")
        el(entry, "summary", _("%(title)s (%(reference)s): its commissioner has published "
                               "%(part)s.", title=e.title, reference=e.reference, part=part))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


ROUTES = [index, feed, subject_page]
