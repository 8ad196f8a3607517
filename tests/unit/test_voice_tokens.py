"""A participant's link cannot be guessed, the database keeps nothing it could be rebuilt
from, and the participant it was made for can be read back only with the link itself."""

from __future__ import annotations

import base64
import re
import uuid

import pytest

from voice import tokens


def test_a_token_is_43_url_safe_characters_carrying_256_bits() -> None:
    token = tokens.new_token()
    assert len(token) == 43
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    # 43 base64 characters decode to the 32 random bytes (256 bits) they were made from.
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert tokens.TOKEN_BYTES * 8 == 256


def test_tokens_do_not_repeat() -> None:
    drawn = [tokens.new_token() for _ in range(10_000)]
    assert len(set(drawn)) == 10_000
    assert all(tokens.looks_like_token(t) for t in drawn)
    # Every character of the alphabet turns up: the draws are not stuck on part of it.
    assert len(set("".join(drawn))) == 64


def test_virker_keeps_the_sha256_of_a_token_not_the_token() -> None:
    token = tokens.new_token()
    digest = tokens.token_hash(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest != token and token not in digest
    assert digest == tokens.token_hash(token)
    assert digest != tokens.token_hash(tokens.new_token())
    # The known SHA-256 of a fixed text, so the hash is the one the docs name.
    assert tokens.token_hash("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_the_participant_is_read_back_with_the_token() -> None:
    for _ in range(100):
        token, participant = tokens.new_token(), uuid.uuid4()
        sealed = tokens.seal(token, participant)
        assert re.fullmatch(r"[0-9a-f]{32}", sealed)
        assert tokens.unseal(token, sealed) == participant


def test_another_token_reads_someone_else() -> None:
    token, participant = tokens.new_token(), uuid.uuid4()
    sealed = tokens.seal(token, participant)
    assert tokens.unseal(tokens.new_token(), sealed) != participant


def test_the_sealed_value_shows_nothing_of_the_participant() -> None:
    participant = uuid.uuid4()
    first = tokens.seal(tokens.new_token(), participant)
    second = tokens.seal(tokens.new_token(), participant)
    # The same participant under two links gives two unrelated values ...
    assert first != second
    assert first != participant.hex and second != participant.hex
    # ... that differ in about half their bits, as two random values do (128 bits: the
    # chance of 24 or fewer or 104 or more differing by luck is below one in a trillion).
    differing = bin(int(first, 16) ^ int(second, 16)).count("1")
    assert 24 < differing < 104
    # Nor does a sealed value carry the participant's id in the clear, whole or in part.
    for sealed in (first, second):
        assert participant.hex[:8] not in sealed


@pytest.mark.parametrize("text", [
    "",
    "a" * 42,
    "a" * 44,
    "a" * 42 + "=",
    "a" * 42 + "+",
    "a" * 42 + "/",
    "a" * 42 + "æ",
    "a" * 42 + " ",
    "a" * 43 + "\n",
    "\n" + "a" * 43,
    "../" + "a" * 40,
    tokens.token_hash("x"),
])
def test_looks_like_token_refuses_other_shapes(text: str) -> None:
    assert not tokens.looks_like_token(text)


def test_looks_like_token_takes_what_new_token_gives() -> None:
    assert tokens.looks_like_token("A" * 20 + "-_" + "z9" * 10 + "0")
