"""Personal identifiers in free text: what Virker will not keep.

Virker knows participants by pseudonym only. Every text a user writes (references, evidence
references, participant dimensions, reasons, titles, metric texts, labels, keys, seeds) is
read by `find`, which reports the spans that look like one of these:

- a Danish CPR number: ten digits DDMMYY-SSSS whose first six are a real day and month (the
  day may be raised by 60, as in replacement numbers), written together or split only
  between day, month, year and serial by any run of `. / - _ : space`
  (`0101901234`, `010190.1234`, `01-01-90-1234`, `01 01 90--1234`);
- a Norwegian fødselsnummer: eleven digits DDMMYY-IIIKK likewise (D-numbers raise the day
  by 40, H-numbers the month by 40, synthetic test numbers the month by 80);
- a UK National Insurance number: two letters, six digits and A–D, with or without the same
  separators (`AB123456C`, `ab 12 34 56 c`, `AB-12-34-56-C`);
- an e-mail address, also written with `#`, `(at)` or `[at]` for `@` (`jens#example.dk`),
  unless what follows the last dot is a file extension (`scan@2x.png`);
- a phone number: international (`+45 12 34 56 78`, `0047 912 34 567`), Danish or
  Norwegian in the usual groups (`12 34 56 78`, `12.34.56.78`, `912 34 567`), British
  (`07700 900123`, `020 7946 0018`), or any number of eight digits or more after a word
  that announces one (`tlf. 12345678`, `phone: 12345678`).

Digits inside a UUID or a hexadecimal digest of 32 characters or more are not read: such
values are document ids and hashes, which `evidence_ref` is for. A single run of twelve or
more digits is a longer number (an EAN, an account), not an identifier; where a pseudonym is
expected, outcomes.pseudonyms is stricter than this.

Pure: no I/O, no framework. The same rules serve the API, the batch importer and the docs
(docs/payment-rules.md, "Personal data in free text").
"""

from __future__ import annotations

import calendar
import re
from typing import NamedTuple

from contracts.errors import Invalid, Problem

CPR = "Danish CPR number"
FNR = "Norwegian fødselsnummer"
NINO = "UK National Insurance number"
EMAIL = "e-mail address"
PHONE = "phone number"

_SEP = r"[-./_:\s]"
# A run of digit groups, each group split from the next by separators.
_CLUSTER = re.compile(rf"\d+(?:{_SEP}+\d+)*")
_DIGITS = re.compile(r"\d+")
_NOT_DIGITS = re.compile(r"\D+")
# Values that are ids or hashes by construction: their digits are not read.
_OPAQUE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")
_NINO = re.compile(
    rf"(?<![0-9A-Za-z])[A-Za-z]{{2}}{_SEP}{{0,3}}\d{{2}}{_SEP}{{0,3}}\d{{2}}{_SEP}{{0,3}}\d{{2}}"
    rf"{_SEP}{{0,3}}[A-Da-d](?![0-9A-Za-z])")
_FILE_EXTENSIONS = frozenset({
    "pdf", "doc", "docx", "xls", "xlsx", "xlsm", "csv", "txt", "rtf", "odt", "ods", "odp",
    "ppt", "pptx", "jpg", "jpeg", "png", "gif", "tif", "tiff", "heic", "bmp", "svg", "json",
    "xml", "html", "htm", "zip", "msg", "eml", "mp3", "mp4", "wav", "mov",
})
# An address is read outwards from its @ (or # or (at) or [at]): the part before it, then
# the domain after it, so that a long text is read in time linear in its length.
_AT = re.compile(r"\s?[@＠]\s?|#|\s?\(at\)\s?|\s?\[at\]\s?", re.IGNORECASE)
_LOCAL = re.compile(r"[\w.%+-]{1,64}\Z")
_DOMAIN = re.compile(r"(?:[\w-]{1,63}\.){1,8}([^\W\d_]{2,24})(?![\w-])")
_MARKERS = ("@", "＠", "#", "(at)", "[at]", "(AT)", "[AT]")
# Country codes written as 00…: the Nordic countries, the UK and Virker's neighbours. (With
# a leading + any country code counts.)
_COUNTRIES = "45|46|47|44|298|299|354|358|49|48|31|32|33|34|39|353"
_PHONE = re.compile(
    # International: + or 00, a country code, then at least seven more digits.
    r"(?<![\w+])\(?\+\s?\d{1,3}\)?(?:[\s.-]?\d){7,12}(?!\d)"
    rf"|(?<![\w+])\(?00(?:{_COUNTRIES})\)?(?:[\s.-]?\d){{7,12}}(?!\d)"
    # Danish and Norwegian numbers in their usual groups.
    r"|(?<!\d)(?<!\d[ .,-])\d{2}([ .-])\d{2}\1\d{2}\1\d{2}(?!\d)(?![ .,-]\d)"
    r"|(?<!\d)(?<!\d[ .,-])\d{3} \d{2} \d{3}(?!\d)(?![ .,-]\d)"
    # British numbers: 0, then ten digits in two or three groups.
    r"|(?<!\d)0[1-9]\d{3}[\s-]?\d{6}(?!\d)"
    r"|(?<!\d)0[1-9]\d{1,2}[\s-]\d{3,4}[\s-]\d{4}(?!\d)"
    r"|(?<!\d)07\d{9}(?!\d)")
# Any number of eight or more digits after a word that announces a phone number.
_ANNOUNCED_PHONE = re.compile(
    r"\b(?:tlf|tel|telefon|telefonnummer|phone|mobil|mobile|mob|sms)\b\.?:?\s{0,3}"
    r"(\+?\d(?:[\s.-]?\d){7,14})(?!\d)", re.IGNORECASE)


class Finding(NamedTuple):
    kind: str
    start: int
    end: int


def _valid_day_month(day: int, month: int) -> bool:
    # 2000 is a leap year: 29 February is a real birthday.
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2000, month)[1]


def _is_cpr(d: str) -> bool:
    day, month = int(d[0:2]), int(d[2:4])
    return _valid_day_month(day, month) or _valid_day_month(day - 60, month)


def _is_fnr(d: str) -> bool:
    day, month = int(d[0:2]), int(d[2:4])
    return any(_valid_day_month(day - dd, month - mm)
               for dd in (0, 40) for mm in (0, 40, 80))


def _national_numbers(text: str) -> list[Finding]:
    """Ten- and eleven-digit numbers that are a birth date and a serial, split at most
    between day, month, year and serial."""
    found = []
    for cluster in _CLUSTER.finditer(text):
        groups = list(_DIGITS.finditer(cluster.group()))
        for i in range(len(groups)):
            digits, cuts = "", set()
            for j in range(i, len(groups)):
                if digits:
                    cuts.add(len(digits))
                digits += groups[j].group()
                if len(digits) > 11:
                    break
                if len(digits) not in (10, 11) or not cuts <= {2, 4, 6}:
                    continue
                # Not a piece of a longer number: the window is whole groups already.
                kind = CPR if len(digits) == 10 and _is_cpr(digits) else (
                    FNR if len(digits) == 11 and _is_fnr(digits) else None)
                if kind:
                    found.append(Finding(kind, cluster.start() + groups[i].start(),
                                         cluster.start() + groups[j].end()))
    return found


def _addresses(text: str) -> list[Finding]:
    if not any(m in text for m in _MARKERS):
        return []
    found = []
    for at in _AT.finditer(text):
        local = _LOCAL.search(text, max(0, at.start() - 64), at.start())
        domain = _DOMAIN.match(text, at.end())
        if local and domain and domain.group(1).lower() not in _FILE_EXTENSIONS:
            found.append(Finding(EMAIL, local.start(), domain.end()))
    return found


def find(text: str) -> list[Finding]:
    """Every span of `text` that looks like a personal identifier, in order of position;
    overlapping findings are merged into the first."""
    # Each kind is looked for only where it could be: an address needs its @, a NI number
    # six digits, a phone number eight, a national number ten.
    digits = len(_NOT_DIGITS.sub("", text))
    found = []  # in order of precedence where two read the same span
    if digits >= 6:
        visible = _OPAQUE.sub(lambda m: "x" * len(m.group()), text)
        if digits >= 10:
            found += _national_numbers(visible)
        found += [Finding(NINO, m.start(), m.end()) for m in _NINO.finditer(visible)]
    found += _addresses(text)
    if digits >= 8:
        found += [Finding(PHONE, m.start(), m.end()) for m in _PHONE.finditer(visible)]
        found += [Finding(PHONE, m.start(1), m.end(1))
                  for m in _ANNOUNCED_PHONE.finditer(visible)]
    merged: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, f.end))
        else:
            merged.append(f)
    return merged


def identifier_kind(text: str) -> str | None:
    """What the first personal identifier in `text` looks like, or None."""
    found = find(text)
    return found[0].kind if found else None


def mask(text: str) -> str:
    """`text` with every personal identifier replaced by what it was, e.g.
    "[CPR number removed]"."""
    found = find(text)
    for f in reversed(found):
        text = f"{text[:f.start]}[{_short(f.kind)} removed]{text[f.end:]}"
    return text


def _short(kind: str) -> str:
    return {CPR: "CPR number", NINO: "NI number"}.get(kind, kind)


def message(kind: str) -> str:
    """What a refusal says: the kind, never the value."""
    article = "an" if kind[0] in "aeiou" else "a"
    return (f"this looks like {article} {kind}; Virker keeps no personal data, so nothing "
            "was stored. Use a pseudonym or a reference from your own case system instead")


def refuse(field: str, value: str | None) -> None:
    """Raise 422 `personal_identifier` naming `field` when `value` carries an identifier
    (for values that come from elsewhere than a body, such as a header)."""
    kind = identifier_kind(value) if value else None
    if kind:
        raise Invalid(f"{field}: {message(kind)}", code="personal_identifier",
                      problems=[Problem(code="personal_identifier", field=field,
                                        message=message(kind))])
