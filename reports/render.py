"""Statements as PDF/A-3u: Jinja templates rendered by WeasyPrint, with bulk detail attached
as files so that the body stays a few pages.

Pure with respect to the database: it takes what `reports.assembly` read and returns bytes.
WeasyPrint is slow and keeps memory it used, so `reports.pool` runs this in worker processes.
Money is written for the document's reader by `reports.formats.money`, the one money
formatter of every document.

WeasyPrint lays out the body alone; `reports.embed` then adds the files, already deflated,
as PDF/A-3 associated files, so that neither WeasyPrint nor Python ever holds a file's
uncompressed bytes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports import embed, formats
from reports.attachments import Attachment

PDF_VARIANT = "pdf/a-3u"


class _SvgStyleNoise(logging.Filter):
    """matplotlib writes SVG styles (`fill`, `stroke`, …) that WeasyPrint's CSS parser logs
    as unknown while its SVG renderer applies them; keep the log for real problems."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.getMessage().startswith("Ignored `")
                    and "unknown property" in record.getMessage())


logging.getLogger("weasyprint").addFilter(_SvgStyleNoise())

_env = Environment(loader=PackageLoader("reports", "templates"),
                   autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)
_env.globals.update(pct=lambda bp: f"{bp / 100:g} %")
_CSS = files("reports").joinpath("templates/statement.css").read_text()


@dataclass(frozen=True)
class Listed:
    name: str
    description: str
    rows: int
    sha256: str


def listing(attachments: list[Attachment]) -> list[Listed]:
    """What the body says about each attached file: how many rows it lists and the
    SHA-256 of its bytes."""
    return [Listed(name=a.name, description=a.description, rows=a.rows,
                   sha256=a.spool.sha256 if a.spool else hashlib.sha256(a.data).hexdigest())
            for a in attachments]


def html(template: str, lang: str = "en", **context) -> str:
    """The document's HTML, its money written for a reader of `lang`."""
    return _env.get_template(template).render(
        css=_CSS, lang=lang,
        money=lambda a, c: formats.money(a, c, lang),
        amount=lambda a, c: formats.money(a, c, lang, unit=False), **context)


def _lang(currency: str, parties: Iterable, requested: str | None) -> str:
    identifiers = [p.identifier for p in parties if p.role == "commissioner"]
    return formats.document_lang(currency, identifiers, requested)


def pdf(document: str, attachments: list[Attachment],
        timings: dict[str, float] | None = None) -> bytes:
    """PDF/A-3u bytes for `document`, with `attachments` embedded as associated files;
    `timings` gets the seconds WeasyPrint took (layout) and the embedding took."""
    from weasyprint import HTML

    t = time.perf_counter()
    body = HTML(string=document).write_pdf(pdf_variant=PDF_VARIANT, custom_metadata=True)
    t_layout = time.perf_counter() - t
    out = embed.associated_files(body, attachments) if attachments else body
    if timings is not None:
        timings.update(layout=t_layout, embed=time.perf_counter() - t - t_layout)
    return out


def statement_document(statement, lang: str | None = None,
                       timings: dict[str, float] | None = None) -> bytes:
    """The statement as PDF/A-3u, in `lang` or the contract's language; `timings` gets
    the seconds spent on HTML and on PDF (of which layout and embedding the files)."""
    from reports.chart import outcomes_chart

    t = time.perf_counter()
    lang = _lang(statement.currency, statement.parties, lang)
    document = html("statement.html", lang, s=statement,
                    chart=outcomes_chart(statement.monthly, statement.currency, lang),
                    attachments=listing(statement.attachments))
    t_html = time.perf_counter() - t
    body = pdf(document, statement.attachments, timings)
    if timings is not None:
        timings.update(html=t_html, pdf=time.perf_counter() - t - t_html)
    return body


def statement_pdf(statement, lang: str | None = None) -> bytes:
    return statement_document(statement, lang)


REMITTANCE_LINES_SHOWN = 200


def remittance_pdf(remittance, lang: str | None = None) -> bytes:
    parties = [p for p, _, _ in remittance.by_commissioner]
    document = html("remittance.html", _lang(remittance.currency, parties, lang),
                    r=remittance, shown=REMITTANCE_LINES_SHOWN,
                    attachments=listing(remittance.attachments))
    return pdf(document, remittance.attachments)
