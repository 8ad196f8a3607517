"""Pseudonyms only: refuse anything shaped like a national identifier or a name.

Virker never stores who a participant is. A provider picks a pseudonym from its own case
system; this module refuses values that look like a Danish CPR number (DDMMYY-XXXX, or ten
digits), a Norwegian fødselsnummer (eleven digits), a UK National Insurance number, or that
are not a single token (names have spaces; e-mail addresses have @). It is stricter than the
rules for free text in contracts.personal, which it applies as well: any run of ten digits or
more is refused here, whatever date it makes, and so is an e-mail address written with # or
a phone number written with dashes, which the token rule alone would let through.
"""

from __future__ import annotations

import re

from contracts import personal

PSEUDONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:#/-]{0,63}$")
CPR_WITH_DASH = re.compile(r"(?<!\d)\d{6}-\d{4}(?!\d)")
# Ten digits is a CPR number, eleven a fødselsnummer; longer runs may hide either.
LONG_DIGIT_RUN = re.compile(r"\d{10,}")
UK_NINO = re.compile(r"(?<![A-Z])[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D](?![A-Z])",
                     re.IGNORECASE)
NATIONAL = (personal.CPR, personal.FNR, personal.NINO)


def identifier_kind(value: str) -> str | None:
    """Which kind of national identifier `value` looks like, or None."""
    return _national_kind(value, personal.identifier_kind(value))


def _national_kind(value: str, kind: str | None) -> str | None:
    """`identifier_kind`, given what `contracts.personal` found in `value` (`kind`)."""
    compact = value.replace(" ", "")
    if CPR_WITH_DASH.search(value):
        return personal.CPR
    run = LONG_DIGIT_RUN.search(compact)
    if run:
        return personal.FNR if len(run.group()) == 11 else personal.CPR
    if UK_NINO.search(value):
        return personal.NINO
    return kind if kind in NATIONAL else None


def _refused(kind: str) -> tuple[str, str]:
    return ("personal_identifier",
            f"this looks like a {kind}; send the pseudonym from your case system instead")


def pseudonym_problem(value: str) -> tuple[str, str] | None:
    """(code, message) when `value` cannot be a pseudonym, else None."""
    found = personal.identifier_kind(value)  # looked for once, used twice below
    kind = _national_kind(value, found)
    if kind:
        return _refused(kind)
    if not PSEUDONYM.match(value):
        return ("invalid_pseudonym",
                "a pseudonym is one token of letters, digits and _ . : # / - (at most 64), "
                "never a name or an e-mail address")
    if found:  # a token may still be an address or a phone
        return _refused(found)
    return None
