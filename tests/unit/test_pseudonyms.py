"""Participants are pseudonyms: anything shaped like a national identifier is refused."""

import pytest

from outcomes.pseudonyms import pseudonym_problem


@pytest.mark.parametrize("value", [
    "010190-1234",        # CPR with dash
    "0101901234",         # CPR as ten digits
    "p-0101901234",       # hidden in a longer value
    "01019012345",        # Norwegian fødselsnummer
    "AB123456C",          # UK National Insurance number
    "ab 12 34 56 c",      # ... with spaces and lower case
    "case/QQ123456A",
    "01.01.90.1234",      # CPR with dots
    "01-01-90-1234",      # ... with extra dashes
    "010190_1234",        # ... with an underscore
    "AB-12-34-56-C",      # NI number with dashes
    "jens#example.dk",    # an e-mail address with # for @ is a token, but not a pseudonym
    "12-34-56-78",        # a phone number
])
def test_national_identifiers_are_refused(value):
    problem = pseudonym_problem(value)
    assert problem is not None and problem[0] == "personal_identifier"


@pytest.mark.parametrize("value", ["Jens Hansen", "jens@example.dk", "", "-leading", "x" * 65])
def test_names_and_non_tokens_are_not_pseudonyms(value):
    problem = pseudonym_problem(value)
    assert problem is not None and problem[0] == "invalid_pseudonym"


@pytest.mark.parametrize("value", ["ROS-0042", "p7f3a9", "ung:2024:17", "HB#123456789",
                                   "K-2024-000123"])
def test_case_system_pseudonyms_pass(value):
    assert pseudonym_problem(value) is None
