"""A participant's comment keeps what they said and loses who they are: names and personal
identifiers are masked before the comment is stored, in Danish, Norwegian and English."""

from __future__ import annotations

import time

import pytest

from voice.masking import NAME, mask_comment

N = NAME

MASKED = [
    # (as written, as stored)
    # A capitalised word inside a sentence is a name.
    ("Jeg snakkede med Mette i går.", f"Jeg snakkede med {N} i går."),
    ("Tusind tak til Søren og Gitte!", f"Tusind tak til {N} og {N}!"),
    ("Takk til Ingrid, hun hørte på meg.", f"Takk til {N}, hun hørte på meg."),
    ("I spoke to Sarah on Monday about my English course.",
     f"I spoke to {N} on Monday about my English course."),
    ("Hilsen Bo", f"Hilsen {N}"),
    # An unlisted name inside a sentence: its capital letter gives it away.
    ("Vi mødtes hos Zainab-Leila hver uge.", f"Vi mødtes hos {N} hver uge."),
    # A full name is one marker, not two.
    ("Jeg snakkede med Mette Hansen i går.", f"Jeg snakkede med {N} i går."),
    ("Veilederen min, Kari Nordmann, var flink.", f"Veilederen min, {N}, var flink."),
    ("Mette H. Jensen ringede hver fredag.", f"{N} ringede hver fredag."),
    ("Thanks to Dr. Smith and Mrs Jones!", f"Thanks to Dr. {N} and Mrs {N}!"),
    ("fru Jensen var sød, og hr. Olsen også.", f"fru {N} var sød, og hr. {N} også."),
    # A listed name at the start of a sentence or a line.
    ("Mette var sød.", f"{N} var sød."),
    ("Det gik godt. Kari hjalp meg med søknaden.", f"Det gik godt. {N} hjalp meg med søknaden."),
    ("Sarah listened to me.", f"{N} listened to me."),
    ("Tak til:\n- Mette\n- Jens\nSøren var også god.",
     f"Tak til:\n- {N}\n- {N}\n{N} var også god."),
    ("Mettes råd hjalp.", f"{N} råd hjalp."),
    ("Mette's advice helped. I'm grateful.", f"{N}'s advice helped. I'm grateful."),
    ("TAK TIL METTE", f"TAK TIL {N}"),
    # After words that introduce a name, in lower case too.
    ("jeg hedder mette hansen og er 45 år.", f"jeg hedder {N} og er 45 år."),
    ("Hei, jeg heter ola nordmann.", f"Hei, jeg heter {N} nordmann."),
    ("Mitt navn er Kari.", f"Mitt navn er {N}."),
    ("my name is john smith", f"my name is {N}"),
    ("min kontaktperson anne ringede altid tilbage",
     f"min kontaktperson {N} ringede altid tilbage"),
    ("Min sagsbehandler: Jens.", f"Min sagsbehandler: {N}."),
    ("Kontaktpersonen min, Siri, var der alltid.", f"Kontaktpersonen min, {N}, var der alltid."),
    ("My key worker, Sam, listened.", f"My key worker, {N}, listened."),
    ("Hun het Siri.", f"Hun het {N}."),
    ("Jeg er Mette, og jeg vil gerne sige tak.", f"Jeg er {N}, og jeg vil gerne sige tak."),
    # Place names inside a sentence are masked too: over-masking is the safe side.
    ("Jeg bor i Aarhus.", f"Jeg bor i {N}."),
]


@pytest.mark.parametrize(("written", "stored"), MASKED)
def test_names_are_masked(written: str, stored: str) -> None:
    assert mask_comment(written) == stored


IDENTIFIERS = [
    ("Mit cpr er 010190-1234, skriv endelig.", "Mit cpr er [CPR number removed], skriv endelig."),
    ("Fødselsnummer 01019012345.", "Fødselsnummer [Norwegian fødselsnummer removed]."),
    ("My NI number is AB 12 34 56 C.", "My NI number is [NI number removed]."),
    ("Skriv til mig på mette.hansen@example.dk",
     "Skriv til mig på [e-mail address removed]"),
    ("Ring på 12 34 56 78 eller +47 912 34 567.",
     "Ring på [phone number removed] eller [phone number removed]."),
    ("Call me on 07700 900123 please.", "Call me on [phone number removed] please."),
]


@pytest.mark.parametrize(("written", "stored"), IDENTIFIERS)
def test_identifiers_are_masked(written: str, stored: str) -> None:
    assert mask_comment(written) == stored


def test_names_and_identifiers_together() -> None:
    written = ("Jeg hedder Mette Hansen, cpr 010190-1234 12 34 56 78. "
               "Min rådgiver Kari (kari@example.no) var god.")
    stored = mask_comment(written)
    assert stored == (f"Jeg hedder {N}, cpr [CPR number removed] [phone number removed]. "
                      f"Min rådgiver {N} ([e-mail address removed]) var god.")
    for piece in ("Mette", "Hansen", "0101", "12 34", "Kari", "kari@"):
        assert piece not in stored


UNCHANGED = [
    "Det hjalp meget. Tak for hjælpen!",
    "I felt better after the course.",
    "Det var godt. Jeg fikk hjelp fra Nav og kommunen.",
    "Jeg er glad for hjælpen, og min kontaktperson var god.",
    "Kontaktpersonen er sød. Hvad hedder det nu igen?",
    "I called back yesterday and I am Danish, by the way.",
    "Hans mor ringede.",
    "Vi var 3 gange hos NAV og fik et CPR-bevis. Plan A virkede.",
    "  Mange tak!\n\nDet var 10/10 – godt gået.  ",
    "It helped on Tuesday, in March and at Christmas. OK?",
    "",
]


@pytest.mark.parametrize("written", UNCHANGED)
def test_text_without_names_is_left_as_it_was(written: str) -> None:
    assert mask_comment(written) == written


@pytest.mark.parametrize("written", [w for w, _ in MASKED + IDENTIFIERS] + UNCHANGED)
def test_masking_a_masked_comment_changes_nothing(written: str) -> None:
    once = mask_comment(written)
    assert mask_comment(once) == once


def test_markers_written_by_the_participant_are_not_masked_again() -> None:
    written = "[name removed] og [Norwegian fødselsnummer removed] står her allerede."
    assert mask_comment(written) == written


def test_a_long_comment_is_masked_in_linear_time() -> None:
    sentence = "Jeg talte med Mette Hansen på 12 34 56 78. "
    short, long = sentence * 4, sentence * 46  # about 170 and 2,000 characters
    assert mask_comment(long).count(N) == 46

    def timed(text: str) -> float:
        start = time.perf_counter()
        for _ in range(20):
            mask_comment(text)
        return time.perf_counter() - start

    # Eleven times the text takes far less than a hundred times as long.
    assert timed(long) < 40 * timed(short) + 0.05
    # Worst cases for the tokeniser: capitals, brackets and markers without a break.
    for text in ("Aa " * 666, "[" * 2000, "[name removed]" * 142, "Dr. " * 500):
        start = time.perf_counter()
        mask_comment(text)
        assert time.perf_counter() - start < 0.5
