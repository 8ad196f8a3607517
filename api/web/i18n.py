"""The web UI's languages: Danish, Norwegian (bokmål) and English, from gettext catalogues
kept as .po files beside this module (api/web/locale/<lang>/LC_MESSAGES/messages.po).

The catalogues are compiled in memory when first used (Babel reads the .po and writes the
.mo into a buffer), so a checkout never serves a stale compiled file. Templates translate
with `_()` / `gettext()` / `ngettext()` (jinja2.ext.i18n, new style: `_("%(n)s claims",
n=3)`), and format with the filters installed here, each for the request's language:
`money`, `amount` (a Money struct), `number`, `percent`, `date`, `datetime`.

Which language a request gets: the one the user chose (kept on the user and in the session),
else that of the user's organisation's country (DK: Danish, NO: Norwegian), else what the
browser asks for (Accept-Language), else English.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from reports.formats import LOCALES
from reports.formats import money as format_money

LANGUAGES = ("da", "nb", "en")
NAMES = {"da": "Dansk", "nb": "Norsk bokmål", "en": "English"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
_BY_COUNTRY = {"DK": "da", "NO": "nb"}

current: ContextVar[str] = ContextVar("virker_language", default=DEFAULT)


def N_(message: str) -> str:
    """Mark a word for the catalogues that templates translate later (`_(status)`)."""
    return message


# Words that reach templates as values (statuses, roles, bands, kinds) and are translated
# there: marked here so that `make messages` puts them in the catalogues.
WORDS = (
    N_("accepted"), N_("sampled"), N_("verified"), N_("disputed"), N_("approved"), N_("paid"),
    N_("reversed"), N_("rejected"), N_("partial"), N_("draft"), N_("active"), N_("suspended"),
    N_("closed"), N_("pending"), N_("applied"), N_("withdrawn"), N_("superseded"),
    N_("commissioner"), N_("provider"), N_("auditor"), N_("admin"), N_("expand"),
    N_("maintain"), N_("review"), N_("insufficient_evidence"), N_("accepted"),
    N_("overridden"), N_("event"), N_("score_change"), N_("duration"), N_("outcome"),
    N_("cohort"), N_("historical"), N_("comparison_group"), N_("national_statistic"),
    N_("inside"), N_("above_95"), N_("above_998"), N_("below_95"), N_("below_998"),
    N_("participants"), N_("claims"), N_("lead"), N_("partner"),
)


@cache
def translations(lang: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def language_of_organisation(identifier: str | None) -> str:
    return _BY_COUNTRY.get((identifier or "")[:2], DEFAULT)


def from_accept_language(header: str | None) -> str:
    if not header:
        return DEFAULT
    wanted = [part.split(";")[0].strip().replace("-", "_") for part in header.split(",")]
    # Norwegian is asked for as no, nb or nn; Virker writes bokmål.
    wanted = ["nb" if w.split("_")[0] in ("no", "nn", "nb") else w for w in wanted if w]
    found = negotiate_locale(wanted, list(LANGUAGES), sep="_")
    if found is None:
        found = negotiate_locale([w.split("_")[0] for w in wanted], list(LANGUAGES))
    return found or DEFAULT


def _(message: str, **values: Any) -> str:
    """Translate in Python code (flash messages, errors shown on a page)."""
    text = translations(current.get()).gettext(message)
    # As in templates (Jinja's new-style gettext), `%%` is a per cent sign.
    try:
        return text % values
    except (TypeError, ValueError, KeyError):
        return text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    """Translate a count in Python code; `%(num)s` is the count."""
    text = translations(current.get()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


# For templates: Jinja's new-style gettext does the %-formatting itself.
def _template_gettext(message: str) -> str:
    return translations(current.get()).gettext(message)


def _template_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current.get()).ngettext(singular, plural, n)


def locale() -> str:
    return LOCALES[current.get()]


def money(amount: int | None, currency: str) -> str:
    return "–" if amount is None else format_money(int(amount), currency, current.get())


def amount(value: Any) -> str:
    """A `Money` struct (or None) for the reader."""
    return "–" if value is None else money(value.amount, value.currency)


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale())


def percent(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + " %"
    return format_percent(value, format=pattern, locale=locale())


def date(value: dt.date | None, form: str = "medium") -> str:
    return "–" if value is None else format_date(value, format=form, locale=locale())


def datetime(value: dt.datetime | None, form: str = "medium") -> str:
    if value is None:
        return "–"
    return format_datetime(value, format=form, locale=locale(), tzinfo=dt.UTC)


def language_name(lang: str) -> str:
    return Locale.parse(LOCALES[lang]).get_display_name(LOCALES[lang]) or NAMES[lang]


def install(environment: Any) -> None:
    """Give a Jinja environment the translations and the formatting filters."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(_template_gettext, _template_ngettext,
                                          newstyle=True)
    environment.filters.update(money=money, amount=amount, number=number, percent=percent,
                               date=date, datetime=datetime)
    environment.globals.update(LANGUAGES=LANGUAGES, LANGUAGE_NAMES=NAMES,
                               current_language=current.get)
