"""Citizen-voice results from answers, with numbers worked by hand: response rates, means and
shares with their intervals, change for the same pseudonyms, continuity per quarter, and
small cells that stay hidden however the shown figures are combined."""

import datetime as dt
import uuid

import msgspec
import pytest

from voice import results
from voice.instruments import LIBRARY

K = 5
DAY = dt.date(2026, 2, 10)


def wave(instrument="relational", timepoint="enrolment", days=None, invited=50,
         opens_on=dt.date(2026, 1, 1), title="At the start"):
    return results.Wave(id=uuid.uuid4(), title=title, instrument=LIBRARY[instrument],
                        timepoint=timepoint, days=days, opens_on=opens_on,
                        closes_on=opens_on + dt.timedelta(days=60), invited=invited)


def answer(w, participant, scores, *, cohort=None, age_band=None, area=None, day=DAY):
    return (dict(wave=w.id, participant=participant, submitted_on=day, cohort=cohort,
                 age_band=age_band, area=area), scores)


def build(waves, answers, language="en"):
    frame = results.answers_frame([a for a, _ in answers], [s for _, s in answers])
    return results.build(uuid.uuid4(), waves, frame, k=K, language=language)


def measure(result, code):
    return next(m for m in result.measures if m.code == code)


def test_the_response_rate_has_its_wilson_interval():
    w = wave(invited=50)
    out = build([w], [answer(w, f"p{i}", {"helped": 5.0}) for i in range(7)])
    [shown] = out.waves
    assert (shown.invited, shown.responded, shown.anonymous) == (50, 7, 0)
    # 7 of 50: Wilson 0.0695 to 0.2619 (../shared/ANALYTICS.md's check).
    assert shown.response_rate == pytest.approx(0.14)
    assert shown.response_rate_low == pytest.approx(0.0695, abs=1e-4)
    assert shown.response_rate_high == pytest.approx(0.2619, abs=1e-4)


def test_no_rate_where_more_answered_than_were_invited():
    # Answers recorded on paper need no link.
    w = wave(invited=3)
    out = build([w], [answer(w, f"p{i}", {"helped": 5.0}) for i in range(6)])
    assert out.waves[0].responded == 6 and out.waves[0].response_rate is None


def test_a_mean_has_its_t_interval_and_a_share_its_wilson_interval():
    w = wave()
    helped = [2, 4, 4, 5, 7, 8]
    contact = [1, 1, 1, 1, 1, 0]
    out = build([w], [answer(w, f"p{i}", {"helped": float(h), "contact_person": float(c)})
                      for i, (h, c) in enumerate(zip(helped, contact, strict=True))],
                language="da")
    h = measure(out.waves[0], "helped")
    # mean 5, sample sd sqrt(24/5) = 2.1909, t(0.975, 5) = 2.5706, half-width
    # 2.5706 * 2.1909 / sqrt(6) = 2.2992; scipy.stats.t.interval(0.95, 5, loc=5,
    # scale=stats.sem(helped)) gives (2.7008, 7.2992).
    assert (h.n, h.value, h.kind) == (6, 5.0, "mean")
    assert h.low == pytest.approx(2.700802, abs=1e-6)
    assert h.high == pytest.approx(7.299198, abs=1e-6)
    assert h.name == "Hvor meget det hjalp (0-10)"
    c = measure(out.waves[0], "contact_person")
    # 5 of 6: centre (5/6 + z²/12) / (1 + z²/6) = 0.70322, half-width
    # z·sqrt(5/6·1/6/6 + z²/144) / (1 + z²/6) = 0.26673: 0.4365 to 0.9699.
    assert (c.n, c.kind) == (6, "share") and c.value == pytest.approx(5 / 6, abs=1e-6)
    assert c.low == pytest.approx(0.436497, abs=1e-5)
    assert c.high == pytest.approx(0.969947, abs=1e-5)
    # A measure nobody answered has no figure, and nothing to hide.
    asked = measure(out.waves[0], "asked_what_matters")
    assert (asked.n, asked.value, asked.suppressed) == (0, None, False)


def test_a_score_about_fewer_than_k_is_hidden_for_every_reader():
    w = wave()
    out = build([w], [answer(w, f"p{i}", {"helped": 9.0}) for i in range(4)])
    h = measure(out.waves[0], "helped")
    assert h.suppressed and h.suppression == "small_cell"
    assert (h.n, h.value, h.low, h.high) == (None, None, None, None)
    # The count of answers is the parties' to see.
    assert out.waves[0].responded == 4


def test_change_for_the_same_pseudonyms_with_a_paired_t_interval():
    start = wave(timepoint="enrolment", title="Start")
    end = wave(timepoint="exit", title="Exit", opens_on=dt.date(2026, 6, 1))
    before = [3, 4, 5, 6, 7]
    after = [5, 5, 6, 9, 8]
    rows = [answer(start, f"p{i}", {"helped": float(b)}) for i, b in enumerate(before)]
    rows += [answer(end, f"p{i}", {"helped": float(a)}) for i, a in enumerate(after)]
    # Not paired: someone who answered only the exit, and an anonymous answer at each.
    rows += [answer(end, "p9", {"helped": 0.0}), answer(start, None, {"helped": 10.0}),
             answer(end, None, {"helped": 0.0})]
    out = build([end, start], rows)
    [c] = [c for c in out.changes if c.measure == "helped"]
    assert (c.from_wave_id, c.to_wave_id) == (start.id, end.id)
    # Differences 2, 1, 1, 3, 1: mean 1.6, sd sqrt(0.8) = 0.8944, t(0.975, 4) = 2.7764,
    # half-width 2.7764 * 0.8944 / sqrt(5) = 1.1106 (scipy.stats.t.interval gives
    # 0.4894 to 2.7106).
    assert (c.n, c.mean) == (5, 1.6)
    assert c.low == pytest.approx(0.489422, abs=1e-6)
    assert c.high == pytest.approx(2.710578, abs=1e-6)
    # Only mean-measures change; shares do not.
    assert {c.measure for c in out.changes} == {"helped"}


def test_a_change_of_fewer_than_k_pairs_is_hidden():
    start, end = wave(), wave(timepoint="exit", opens_on=dt.date(2026, 6, 1))
    rows = [answer(start, f"p{i}", {"helped": 3.0}) for i in range(6)]
    rows += [answer(end, f"p{i}", {"helped": 8.0}) for i in range(4)]
    [c] = build([start, end], rows).changes
    assert c.suppressed and (c.n, c.mean, c.low, c.high) == (None, None, None, None)


def test_waves_are_paired_in_timepoint_order():
    e = wave(timepoint="enrolment", opens_on=dt.date(2026, 3, 1))
    d180 = wave(timepoint="days_after_enrolment", days=180, opens_on=dt.date(2026, 1, 1))
    d90 = wave(timepoint="days_after_enrolment", days=90, opens_on=dt.date(2026, 2, 1))
    x = wave(timepoint="exit", opens_on=dt.date(2025, 1, 1))
    other = wave(instrument="who5")
    pairs = [(a.id, b.id) for a, b in results.wave_pairs([x, d180, other, e, d90])]
    assert pairs == [(e.id, d90.id), (d90.id, d180.id), (d180.id, x.id), (e.id, x.id)]


def test_continuity_per_quarter_of_answering():
    w = wave()
    later = wave(timepoint="exit", opens_on=dt.date(2026, 4, 1))
    rows = [answer(w, f"p{i}", {"contact_person": float(i < 6)}, day=dt.date(2026, 3, 31))
            for i in range(8)]
    rows += [answer(later, f"p{i}", {"contact_person": 1.0}, day=dt.date(2026, 4, 1))
             for i in range(3)]
    rows += [answer(w, None, {"contact_person": 0.0}, day=dt.date(2026, 1, 5))]
    out = build([w, later], rows)
    first, second = out.continuity
    # 6 of 9 in the first quarter (the anonymous answer counts): Wilson 0.3542 to 0.8794
    # (proportion_confint(6, 9, method="wilson")).
    assert (first.quarter, first.n) == ("2026Q1", 9)
    assert first.share == pytest.approx(2 / 3, abs=1e-6)
    assert first.low == pytest.approx(0.354202, abs=1e-5)
    assert first.high == pytest.approx(0.879416, abs=1e-5)
    assert second.quarter == "2026Q2" and second.suppressed and second.share is None


def cohorts(sizes: dict[str, int], scores: dict[str, list[float]] | None = None,
            anonymous: int = 0):
    w = wave(invited=100)
    rows = []
    for cohort, size in sizes.items():
        values = (scores or {}).get(cohort, [float(5 + i % 3) for i in range(size)])
        rows += [answer(w, f"{cohort}{i}", {"helped": values[i]}, cohort=cohort)
                 for i in range(size)]
    rows += [answer(w, None, {"helped": 4.0}) for _ in range(anonymous)]
    return w, rows


def groups(out, dimension="cohort"):
    return {g.value: g for g in out.waves[0].groups if g.dimension == dimension}


def test_a_cohort_of_three_is_hidden_and_so_is_the_next_smallest():
    w, rows = cohorts({"A": 3, "B": 6, "C": 12})
    out = build([w], rows)
    shown = groups(out)
    a, b, c = shown["A"], shown["B"], shown["C"]
    assert a.respondents is None and a.suppression == "small_cell"
    assert measure(a, "helped").value is None and measure(a, "helped").suppressed
    # Without B hidden too, A would be the total less B and C.
    assert b.respondents is None and b.suppression == "complementary"
    assert measure(b, "helped").value is None
    assert c.respondents == 12 and measure(c, "helped").n == 12
    assert measure(c, "helped").value is not None
    # The other breakdowns hold one value, the whole wave: shown.
    assert groups(out, "area")["(not given)"].respondents == 21


def test_a_suppressed_mean_cannot_be_recovered_from_the_total_and_the_shown_cells():
    # Two sets of answers that differ only in which of A and B holds a 0 and a 10:
    # cohort A's mean is 3.33 in one and 6.67 in the other.
    first = {"A": [0.0, 5.0, 5.0], "B": [10.0, 5, 5, 5, 5, 5]}
    second = {"A": [10.0, 5.0, 5.0], "B": [0.0, 5, 5, 5, 5, 5]}
    shown = []
    for scores in (first, second):
        w, rows = cohorts({"A": 3, "B": 6, "C": 12}, scores)
        out = build([w], rows)
        data = msgspec.to_builtins(out)
        for x in data["waves"]:
            x.pop("wave_id")
        data.pop("contract_id")
        shown.append(data)
    # Every figure shown is the same: nothing shown tells the two apart.
    assert shown[0] == shown[1]
    # And by arithmetic: the total less the shown cells leaves two hidden cells together.
    w, rows = cohorts({"A": 3, "B": 6, "C": 12}, first)
    out = build([w], rows)
    total = measure(out.waves[0], "helped")
    cells = groups(out)
    hidden = [v for v, g in cells.items() if measure(g, "helped").value is None]
    shown_sum = sum(measure(g, "helped").n * measure(g, "helped").value
                    for g in cells.values() if measure(g, "helped").value is not None)
    left = total.n * total.value - shown_sum
    assert len(hidden) >= 2 and left == pytest.approx(0 + 5 + 5 + 10 + 25)


def test_fewer_than_k_anonymous_answers_are_not_shown_and_cannot_be_subtracted():
    w, rows = cohorts({"A": 10, "B": 11}, anonymous=2)
    out = build([w], rows)
    [shown] = out.waves
    assert shown.responded == 23 and shown.anonymous is None
    cells = groups(out)
    # Responded less the cohorts shown would give the anonymous answers back: at least one
    # cohort is hidden, and what is hidden together is at least k.
    visible = sum(g.respondents for g in cells.values() if g.respondents is not None)
    assert shown.responded - visible >= K
    assert any(g.respondents is None for g in cells.values())
    # The anonymous answers count in the wave's figures, never in a cohort.
    assert measure(shown, "helped").n == 23
    assert "(anonymous)" not in cells and all(not v.startswith("\0") for v in cells)


def test_k_or_more_anonymous_answers_are_shown_and_the_breakdown_stands():
    w, rows = cohorts({"A": 10, "B": 11}, anonymous=5)
    out = build([w], rows)
    assert out.waves[0].anonymous == 5
    cells = groups(out)
    assert cells["A"].respondents == 10 and cells["B"].respondents == 11


def test_the_method_says_what_is_computed_and_that_no_payment_changes():
    out = build([], [])
    assert out.waves == [] and out.changes == [] and out.continuity == []
    assert "never changes a payment" in out.method and "fewer than 5" in out.method
    assert "never" in out.never_a_payment
