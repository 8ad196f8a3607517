"""The web UI's catalogues are complete and current.

Every word the templates and the web code mark with `_()`, `gettext()`, `ngettext()` or
`N_()` must be in the catalogue template (api/web/locale/messages.pot), and every entry of
that template must be translated, not fuzzy, in the Danish and the Norwegian catalogues,
with the same placeholders as the English (`%(name)s`, and `%%` for a literal per cent).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "api" / "web" / "locale"
TEMPLATE = LOCALE / "messages.pot"
LANGUAGES = ("da", "nb")
# As `make messages` extracts: Babel's `_`, `gettext` and `ngettext`, and `N_` (mark only).
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s|%%")
REMEDY = "run `make messages`, then translate the new entries in the da and nb catalogues"


def _msgid(message_id: str | tuple[str, ...]) -> str:
    return message_id[0] if isinstance(message_id, (tuple, list)) else message_id


@cache
def _template() -> Catalog:
    with TEMPLATE.open("rb") as f:
        return read_po(f)


@cache
def _catalogue(lang: str) -> Catalog:
    with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def _extracted() -> dict[str, str]:
    """Every msgid marked in the sources today, with where it was found."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, filename=str(ROOT / "babel.cfg"))
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        msgid = _msgid(message)
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def test_the_catalogue_template_holds_every_marked_word():
    template = _template()
    missing = {msgid: where for msgid, where in _extracted().items() if msgid not in template}
    assert not missing, (
        f"{len(missing)} marked word(s) are not in api/web/locale/messages.pot: {REMEDY}.\n"
        + "\n".join(f"  {where}: {msgid!r}" for msgid, where in sorted(missing.items())))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_word_is_translated(lang):
    catalogue = _catalogue(lang)
    problems = []
    for entry in _template():
        if not entry.id:
            continue
        msgid = _msgid(entry.id)
        message = catalogue.get(entry.id)
        if message is None:
            problems.append(f"missing: {msgid!r}")
            continue
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        if not strings or not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {msgid!r}")
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        if entry.pluralizable != message.pluralizable:
            problems.append(f"plural forms differ from the template: {msgid!r}")
    assert not problems, (
        f"{len(problems)} problem(s) in the {lang} catalogue ({REMEDY}):\n"
        + "\n".join(f"  {p}" for p in problems))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_translation_keeps_the_placeholders(lang):
    problems = []
    for message in _catalogue(lang):
        if not message.id:
            continue
        if isinstance(message.id, (tuple, list)):
            strings = message.string if isinstance(message.string, (tuple, list)) else ()
            # The first form answers the singular, every other form the plural.
            pairs = [(message.id[0] if i == 0 else message.id[1], s)
                     for i, s in enumerate(strings)]
        else:
            pairs = [(message.id, message.string)]
        for english, translated in pairs:
            if translated and _placeholders(english) != _placeholders(translated):
                problems.append(f"{english!r} -> {translated!r}: placeholders "
                                f"{sorted(_placeholders(english).elements())} != "
                                f"{sorted(_placeholders(translated).elements())}")
    assert not problems, (
        f"{len(problems)} translation(s) in the {lang} catalogue change the placeholders "
        "(keep every %(name)s, and write a literal per cent sign as %%):\n"
        + "\n".join(f"  {p}" for p in problems))
