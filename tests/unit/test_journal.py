"""The journal's pure rules: canonical bytes, the hash chain, balanced entries."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import entries
from ledger.journal import GENESIS, EntryFacts, PostingLine, canonical, chain_hash, check_entry

A = uuid.UUID("01a20c00-0000-7000-8000-00000000000a")
B = uuid.UUID("01a20c00-0000-7000-8000-00000000000b")
C = uuid.UUID("01a20c00-0000-7000-8000-0000000000cc")
ORG = uuid.UUID("01a20c00-0000-7000-8000-0000000000dd")
ENTRY = EntryFacts(
    seq=7, id=uuid.UUID("01a20c00-0000-7000-8000-000000000007"), kind="accrual",
    effective_on=dt.date(2025, 3, 31),
    recorded_at=dt.datetime(2025, 3, 31, 12, 0, 0, 123456, tzinfo=dt.UTC),
    contract=uuid.UUID("01a20c00-0000-7000-8000-0000000000cc"), idempotency_key="accrue:x",
    reverses=None, memo='claim "x" approved – Holbæk',
    postings=(PostingLine(B, C, ORG, "payable", "DKK", -3_500_000),
              PostingLine(A, C, ORG, "accrued", "DKK", 3_500_000)))


def test_canonical_bytes_are_exactly_as_documented():
    c, o = "01a20c00-0000-7000-8000-0000000000cc", "01a20c00-0000-7000-8000-0000000000dd"
    assert canonical(ENTRY) == (
        f'[3,7,"01a20c00-0000-7000-8000-000000000007","accrual","2025-03-31",'
        f'"2025-03-31T12:00:00.123456Z","{c}","accrue:x",'
        f'null,"claim \\"x\\" approved – Holbæk",'
        f'[["01a20c00-0000-7000-8000-00000000000a","{c}","{o}","accrued","DKK",3500000],'
        f'["01a20c00-0000-7000-8000-00000000000b","{c}","{o}","payable","DKK",-3500000]]]'
    ).encode()
    # An entry recorded before chains per contract keeps its bytes, led by 2.
    assert canonical(ENTRY, version=2) == b"[2" + canonical(ENTRY)[2:]


@pytest.mark.parametrize("field,value", [
    ("contract", uuid.UUID("01a20c00-0000-7000-8000-0000000000ee")),
    ("organisation", uuid.UUID("01a20c00-0000-7000-8000-0000000000ee")),
    ("code", "paid"),
])
def test_what_an_account_is_belongs_to_the_hash(field, value):
    # Moving an account to another contract or organisation, or renaming its code, must
    # change the hash of every entry that posted to it.
    moved = PostingLine(**{**{f: getattr(ENTRY.postings[1], f)
                              for f in PostingLine.__slots__}, field: value})
    other = EntryFacts(**{**{f: getattr(ENTRY, f) for f in ENTRY.__slots__},
                          "postings": (ENTRY.postings[0], moved)})
    assert chain_hash(GENESIS, other) != chain_hash(GENESIS, ENTRY)


def test_the_hash_chains_from_the_previous_hash():
    expected = hashlib.sha256(bytes(32) + canonical(ENTRY)).hexdigest()
    assert chain_hash(GENESIS, ENTRY) == expected
    assert chain_hash("ab" * 32, ENTRY) != expected


def test_posting_order_does_not_change_the_hash():
    flipped = EntryFacts(**{**{f: getattr(ENTRY, f) for f in ENTRY.__slots__},
                            "postings": tuple(reversed(ENTRY.postings))})
    assert chain_hash(GENESIS, flipped) == chain_hash(GENESIS, ENTRY)


@given(st.text(max_size=40))
def test_strings_are_escaped_like_json_dumps_without_ascii_escapes(text):
    # docs/ledger.md promises this, so that auditors can re-implement it elsewhere.
    assert msgspec.json.encode(text) == json.dumps(text, ensure_ascii=False).encode()


def test_an_entry_must_balance_per_currency_and_have_two_postings():
    assert check_entry([("DKK", 5), ("DKK", -5)]) is None
    assert "two or more" in check_entry([("DKK", 0)])
    assert "+5 DKK" in check_entry([("DKK", 10), ("DKK", -5)])
    assert check_entry([("DKK", 5), ("EUR", -5)]) is not None


@given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=1, max_value=9_999))
def test_accruals_split_between_commissioners_to_the_ore(amount, share):
    parts = entries.shares(amount, [(A, share), (B, 10_000 - share)])
    assert sum(p for _, p in parts) == amount
    e = entries.accrual(uuid.uuid4(), "DKK", parts, uuid.uuid4(), dt.date(2025, 1, 1))
    assert check_entry([(leg.currency, leg.amount) for leg in e.legs]) is None


def test_a_clawback_reverses_the_accrual_and_names_it():
    parts = entries.shares(1_000_001, [(A, 6000), (B, 4000)])
    assert parts == [(A, 600_001), (B, 400_000)]
    accrual = entries.accrual(uuid.uuid4(), "DKK", parts, uuid.uuid4(), dt.date(2025, 1, 1))
    back = entries.clawback(accrual.contract, "DKK", parts, uuid.uuid4(), dt.date(2025, 2, 1),
                            paid=False, reverses=uuid.uuid4(), reason="job ended")
    totals = {}
    for leg in accrual.legs + back.legs:
        totals[(leg.organisation, leg.code)] = totals.get((leg.organisation, leg.code), 0) + \
            leg.amount
    assert set(totals.values()) == {0}
    assert back.reverses is not None
    # The reason a person typed stays out of the hash-chained memo (it can be erased).
    assert "job ended" not in back.memo and back.note == "job ended"


@pytest.mark.parametrize("paid,owed", [(False, "payable"), (True, "receivable")])
def test_clawing_back_a_paid_claim_makes_the_provider_owe_it(paid, owed):
    back = entries.clawback(uuid.uuid4(), "DKK", [(A, 100)], uuid.uuid4(), dt.date(2025, 2, 1),
                            paid=paid, reverses=uuid.uuid4(), reason="r")
    assert {(leg.code, leg.amount) for leg in back.legs} == {
        ("accrued", -100), (owed, 100), ("budget", -100), ("committed", 100)}
