"""Every instrument Virker ships scores a response as its authors say, worked out by hand
here; an answer that does not fit its question is refused with the question named; and only
instruments whose licence lets Virker carry their items are shipped, in Danish, Norwegian and
English, with their licence and attribution."""

from __future__ import annotations

import math

import pytest

from voice import instruments as lib
from voice.instruments import GAS, LIBRARY, ONS4, RELATIONAL, WHO5, AnswerError, Item, Texts

# ONS4 ------------------------------------------------------------------------------------


def test_ons4_keeps_each_question_on_its_own_with_the_ons_thresholds() -> None:
    scores = lib.score(ONS4, {"life_satisfaction": 4, "worthwhile": 7, "happiness": 8,
                              "anxiety": 6})
    assert scores == {"life_satisfaction": 4.0, "worthwhile": 7.0, "happiness": 8.0,
                      "anxiety": 6.0,
                      # 0-4 is low life satisfaction; 6-10 is high anxiety.
                      "low_life_satisfaction": 1.0, "high_anxiety": 1.0}


def test_ons4_thresholds_at_their_edges() -> None:
    scores = lib.score(ONS4, {"life_satisfaction": 5, "worthwhile": 0, "happiness": 10,
                              "anxiety": 5})
    assert scores["low_life_satisfaction"] == 0.0
    assert scores["high_anxiety"] == 0.0
    # The four are never summed into one figure.
    assert set(scores) <= {m.code for m in ONS4.measures}


def test_ons4_leaves_out_a_question_left_unanswered() -> None:
    kept = lib.check(ONS4, {"life_satisfaction": 8, "worthwhile": 9, "happiness": None})
    scores = lib.score(ONS4, kept)
    assert scores == {"life_satisfaction": 8.0, "worthwhile": 9.0, "low_life_satisfaction": 0.0}


# WHO-5 -----------------------------------------------------------------------------------

WHO5_CODES = [i.code for i in WHO5.items]


def who5(*answers: int) -> dict[str, int]:
    return dict(zip(WHO5_CODES, answers, strict=True))


@pytest.mark.parametrize(("answers", "index", "poor"), [
    ((3, 2, 4, 1, 5), 60.0, 0.0),   # raw 15, times 4
    ((5, 5, 5, 5, 5), 100.0, 0.0),
    ((0, 0, 0, 0, 0), 0.0, 1.0),
    ((3, 3, 2, 2, 2), 48.0, 1.0),   # raw 12: the highest index at or below 50
    ((3, 3, 3, 2, 2), 52.0, 0.0),   # raw 13
])
def test_who5_index_is_the_raw_sum_times_four(answers: tuple[int, ...], index: float,
                                              poor: float) -> None:
    assert lib.score(WHO5, lib.check(WHO5, who5(*answers))) == {
        "index": index, "poor_wellbeing": poor}


def test_an_incomplete_who5_yields_no_index() -> None:
    kept = lib.check(WHO5, {"cheerful": 5, "calm": 5, "active": 5, "rested": 5,
                            "interest": None})
    assert lib.score(WHO5, kept) == {}


# Goal Attainment Scaling -----------------------------------------------------------------
#
# T = 50 + 10·Σw·x / sqrt((1−ρ)·Σw² + ρ·(Σw)²), ρ = 0.3.
#
# Three goals scored 0, 0, 0: Σw·x = 0, so T = 50.
# Three goals scored +1, +1, +1, weights 1: Σw·x = 3, Σw² = 3, (Σw)² = 9;
#   T = 50 + 30 / sqrt(0.7·3 + 0.3·9) = 50 + 30 / sqrt(4.8) = 50 + 30 / 2.190890 = 63.693064.
# Three goals scored +2, 0, −1, weights 3, 2, 1: Σw·x = 6 + 0 − 1 = 5, Σw² = 9 + 4 + 1 = 14,
#   (Σw)² = 36; T = 50 + 50 / sqrt(0.7·14 + 0.3·36) = 50 + 50 / sqrt(20.6)
#   = 50 + 50 / 4.538722 = 61.016316.
# One goal scored −2: T = 50 − 20 / sqrt(0.7 + 0.3) = 30.
# Five goals scored +2: T = 50 + 100 / sqrt(0.7·5 + 0.3·25) = 50 + 100 / sqrt(11) = 80.151134.


def test_gas_worked_examples() -> None:
    assert lib.gas_t_score([0, 0, 0]) == pytest.approx(50.0)
    assert lib.gas_t_score([1, 1, 1]) == pytest.approx(63.693064, abs=1e-6)
    assert lib.gas_t_score([2, 0, -1], [3, 2, 1]) == pytest.approx(61.016316, abs=1e-6)
    assert lib.gas_t_score([-2]) == pytest.approx(30.0)
    assert lib.gas_t_score([2] * 5) == pytest.approx(80.151134, abs=1e-6)


def test_gas_response_scores_the_goals_answered() -> None:
    scores = lib.score(GAS, lib.check(GAS, {"goal_1": 1, "goal_2": 1, "goal_3": 1,
                                            "goal_4": None}))
    assert scores == {"t_score": 63.693064, "goals_met": 1.0}
    behind = lib.score(GAS, lib.check(GAS, {"goal_1": 2, "goal_2": -1}))
    # 50 + 10 / sqrt(0.7·2 + 0.3·4) = 50 + 10 / sqrt(2.6) = 56.201737; one goal fell short.
    assert behind == {"t_score": 56.201737, "goals_met": 0.0}


@pytest.mark.parametrize(("scores", "weights"), [
    ([], None),
    ([3], None),
    ([1, 1], [1.0]),
    ([1, 1], [0.0, 0.0]),
    ([1, 1], [1.0, -1.0]),
    ([1], [math.nan]),
])
def test_gas_refuses_what_is_not_a_goal_score(scores: list[int],
                                              weights: list[float] | None) -> None:
    with pytest.raises(ValueError):
        lib.gas_t_score(scores, weights)


# Relational questions --------------------------------------------------------------------


@pytest.mark.parametrize(("helped", "positive", "negative"), [
    (10, 1.0, 0.0), (9, 1.0, 0.0), (8, 0.0, 0.0), (7, 0.0, 0.0), (6, 0.0, 1.0), (0, 0.0, 1.0),
])
def test_relational_questions_read_help_as_positive_neutral_or_negative(
        helped: int, positive: float, negative: float) -> None:
    scores = lib.score(RELATIONAL, lib.check(RELATIONAL, {
        "contact_person": 1, "asked_what_matters": 0, "helped": helped}))
    assert scores == {"contact_person": 1.0, "asked_what_matters": 0.0,
                      "helped": float(helped), "helped_positive": positive,
                      "helped_negative": negative}


def test_relational_yes_no_is_a_share_and_a_skipped_question_is_left_out() -> None:
    kinds = {m.code: m.kind for m in RELATIONAL.measures}
    assert kinds["contact_person"] == kinds["asked_what_matters"] == "share"
    answers = [{"contact_person": 1}, {"contact_person": 1}, {"contact_person": 0},
               {"contact_person": 1, "helped": None}]
    scored = [lib.score(RELATIONAL, lib.check(RELATIONAL, a)) for a in answers]
    assert all(set(s) == {"contact_person"} for s in scored)
    # Three of four have one person to contact.
    assert sum(s["contact_person"] for s in scored) / len(scored) == 0.75
    with pytest.raises(AnswerError) as refused:
        lib.check(RELATIONAL, {"contact_person": 2})
    assert refused.value.code == "answer_out_of_range"


# Instruments a commissioner adds ---------------------------------------------------------


def _item(code: str, *, minimum: int = 1, maximum: int = 5, reverse: bool = False,
          kind: str = "scale") -> Item:
    return Item(code=code, kind=kind, text=Texts(da=code, nb=code, en=code),  # type: ignore[arg-type]
                minimum=minimum, maximum=maximum, reverse=reverse)


MEASURE = lib.Measure(code="total", name=Texts(da="I alt", nb="Totalt", en="Total"),
                      minimum=0, maximum=100)


def _custom(scoring: str = "sum", factor: float = 1.0, items: list[Item] | None = None,
            code: str = "stress10") -> lib.Instrument:
    return lib.custom(code, "A licensed scale", "Licensed to the commissioner until 2030.",
                      "Its authors.", items or [_item("a"), _item("b"),
                                                _item("c", reverse=True)],
                      scoring, factor, MEASURE)  # type: ignore[arg-type]


def test_custom_sum_turns_a_reverse_scored_item_round() -> None:
    # a = 4, b = 2, c = 1 scored in reverse on 1-5: 1 + 5 − 1 = 5; 4 + 2 + 5 = 11.
    assert lib.score(_custom(), {"a": 4, "b": 2, "c": 1}) == {"total": 11.0}


def test_custom_mean_and_factor() -> None:
    # The mean of 4, 2, 5 is 11 / 3 = 3.666667; times 4 is 14.666667.
    assert lib.score(_custom("mean"), {"a": 4, "b": 2, "c": 1}) == {"total": 3.666667}
    assert lib.score(_custom("mean", 4), {"a": 4, "b": 2, "c": 1}) == {"total": 14.666667}
    assert lib.score(_custom("sum", 2.5), {"a": 5, "b": 5, "c": 1}) == {"total": 37.5}


def test_custom_instrument_is_the_commissioners_and_incomplete_answers_score_nothing() -> None:
    instrument = _custom()
    assert instrument.shipped is False
    assert instrument.licence == "Licensed to the commissioner until 2030."
    assert lib.score(instrument, lib.check(instrument, {"a": 4, "b": 2})) == {}


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"items": [_item("a", minimum=5, maximum=5)]}, "scale"),
    ({"items": [_item("a", minimum=5, maximum=1)]}, "scale"),
    ({"items": [_item("a"), _item("a")]}, "differ"),
    ({"items": [_item("a", kind="goal", minimum=-2, maximum=2)]}, "scale"),
    ({"code": "who5"}, "Virker's own"),
    ({"code": "ons4"}, "Virker's own"),
    ({"factor": 0.0}, "factor"),
    ({"factor": math.inf}, "factor"),
])
def test_custom_refuses_bad_scales_duplicate_items_and_virkers_own_codes(
        kwargs: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        _custom(**kwargs)


# Answers that do not fit -----------------------------------------------------------------


@pytest.mark.parametrize(("answers", "item", "code"), [
    ({"cheerful": 3, "mood": 2}, "mood", "unknown_item"),
    ({"cheerful": 6}, "cheerful", "answer_out_of_range"),
    ({"cheerful": -1}, "cheerful", "answer_out_of_range"),
    ({"cheerful": 2.5}, "cheerful", "answer_out_of_range"),
    ({"cheerful": 3.0}, "cheerful", "answer_out_of_range"),
    ({"cheerful": "3"}, "cheerful", "answer_out_of_range"),
    ({"cheerful": True}, "cheerful", "answer_out_of_range"),
    ({}, "answers", "no_answers"),
    ({"cheerful": None, "calm": ""}, "answers", "no_answers"),
])
def test_check_refuses_and_names_the_question(answers: dict, item: str, code: str) -> None:
    with pytest.raises(AnswerError) as refused:
        lib.check(WHO5, answers)
    assert (refused.value.item, refused.value.code) == (item, code)
    assert refused.value.message


def test_check_keeps_whole_numbers_and_leaves_out_blanks() -> None:
    assert lib.check(WHO5, {"cheerful": 0, "calm": 5, "active": None, "rested": ""}) == {
        "cheerful": 0, "calm": 5}
    assert lib.check(GAS, {"goal_1": -2, "goal_2": 2}) == {"goal_1": -2, "goal_2": 2}


# What Virker ships -----------------------------------------------------------------------


def _texts(instrument: lib.Instrument) -> list[tuple[str, Texts]]:
    out = [("introduction", instrument.introduction)] if instrument.introduction else []
    for item in instrument.items:
        out.append((f"{item.code}.text", item.text))
        out += [(f"{item.code}.{side}", label) for side, label in
                (("low_label", item.low_label), ("high_label", item.high_label)) if label]
        out += [(f"{item.code}.labels[{n}]", label) for n, label in enumerate(item.labels)]
    out += [(f"{m.code}.name", m.name) for m in instrument.measures]
    return out


@pytest.mark.parametrize("code", sorted(LIBRARY))
def test_every_shipped_text_is_in_danish_norwegian_and_english(code: str) -> None:
    instrument = LIBRARY[code]
    texts = _texts(instrument)
    assert len(texts) > len(instrument.items)
    for where, text in texts:
        for language in lib.LANGUAGES:
            assert getattr(text, language).strip(), f"{code} {where} has no {language} text"


@pytest.mark.parametrize("code", sorted(LIBRARY))
def test_every_shipped_instrument_names_its_licence_and_source(code: str) -> None:
    instrument = LIBRARY[code]
    assert instrument.shipped
    assert len(instrument.licence.strip()) >= 10
    assert len(instrument.attribution.strip()) >= 6


@pytest.mark.parametrize("code", sorted(LIBRARY))
def test_every_point_of_a_labelled_scale_has_its_words(code: str) -> None:
    for item in LIBRARY[code].items:
        assert item.minimum < item.maximum
        if item.labels:
            assert len(item.labels) == item.maximum - item.minimum + 1, item.code
        else:
            assert item.low_label and item.high_label, item.code


def test_the_shipped_instruments_and_their_attributions() -> None:
    assert set(LIBRARY) == {"ons4", "who5", "gas", "relational"}
    assert "Office for National Statistics" in ONS4.attribution
    assert "Psychiatric Research Unit" in WHO5.attribution
    assert "Kiresuk" in GAS.attribution and "rho = 0.3" in GAS.attribution
    assert [len(i.items) for i in (ONS4, WHO5)] == [4, 5]
    assert all((i.minimum, i.maximum) == (0, 10) for i in ONS4.items)
    assert all((i.minimum, i.maximum) == (0, 5) for i in WHO5.items)
    assert all((i.kind, i.minimum, i.maximum) == ("goal", -2, 2) for i in GAS.items)


# Items of instruments that need a licence: Virker never carries them itself.
LICENSED = ["wemwbs", "swemwbs", "warwick", "edinburgh", "perceived stress", "pss",
            "outcomes star", "star chart",
            # WEMWBS and PSS items, as their owners word them
            "feeling optimistic about the future", "feeling useful", "thinking clearly",
            "upset because of something that happened unexpectedly",
            "felt nervous and stressed", "on top of things"]


@pytest.mark.parametrize("code", sorted(LIBRARY))
def test_no_shipped_instrument_carries_licensed_items(code: str) -> None:
    instrument = LIBRARY[code]
    words = " ".join([instrument.code, instrument.name] + [
        getattr(text, language) for _, text in _texts(instrument)
        for language in lib.LANGUAGES]).lower()
    for needle in LICENSED:
        found = needle in words if " " in needle else needle in words.split()
        assert not found, needle


@pytest.mark.parametrize("code", sorted(LIBRARY))
def test_scores_are_the_measures_the_instrument_declares(code: str) -> None:
    instrument = LIBRARY[code]
    full = {i.code: i.maximum for i in instrument.items}
    scores = lib.score(instrument, lib.check(instrument, full))
    measures = {m.code: m for m in instrument.measures}
    assert set(scores) == set(measures)
    for name, value in scores.items():
        assert measures[name].minimum <= value <= measures[name].maximum, name
        if measures[name].kind == "share":
            assert value in (0.0, 1.0)
