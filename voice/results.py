"""Citizen-voice results from answers: response rates, scores with intervals, change between
timepoints and continuity, suppressed below k.

What is computed, per survey wave of a contract:

- invited (links given), responded (answers, through a link or recorded by a provider), of
  them anonymous, and the response rate responded / invited with its 95 % Wilson interval
  (no rate where more answered than were invited: answers on paper need no link);
- per measure of the wave's instrument: how many answered it (n) and the mean with its 95 %
  t interval (kind "mean"), or the share answering yes with its 95 % Wilson interval (kind
  "share");
- the same broken down by cohort, age band and area, from answers given under a pseudonym
  (an anonymous answer belongs to no cohort);

between waves of one instrument, in the order enrolment, N days after enrolment (by N), exit
(by opening day where two waves have the same timepoint): the change of each mean-measure for
the pseudonyms who answered both, with its paired 95 % t interval; and continuity: the share
of respondents of the relational questions who have one contact person, per calendar
quarter of answering, with its Wilson interval.

Small cells (`effect.suppression.suppress`, k = 5 by default): every score figure about fewer
than k respondents is suppressed for every reader, since well-being answers may be health
data; within a breakdown a second cell is suppressed where the wave's total would give a
suppressed one back (complementary suppression, with the anonymous answers as a cell nobody
sees); a count of anonymous answers below k is shown only as "fewer than k", so that it cannot
be subtracted from anything. Counts of links and answers are shown to the contract's parties.

Pure: numpy, pandas, scipy and statsmodels only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from uuid import UUID

import numpy as np
import pandas as pd
from scipy import stats

from effect.formulas import wilson
from effect.suppression import suppress
from voice.instruments import Instrument, Measure
from voice.schemas import (
    ChangeResult,
    ContinuityPoint,
    GroupResult,
    MeasureResult,
    VoiceResults,
    WaveResult,
)

# Breakdowns of the pseudonymous answers, in the order they are shown.
DIMENSIONS = ("cohort", "age_band", "area")
NOT_GIVEN = "(not given)"
SCORE = "score:"  # prefix of a measure's column in the answers frame
CONTINUITY = ("relational", "contact_person")
ANSWER_COLUMNS = ("wave", "participant", "submitted_on", *DIMENSIONS)
_ANONYMOUS = "\0anonymous"  # the breakdown cell of anonymous answers, never shown

METHOD = (
    "Per survey wave: the links given (invited), the answers received through a link or "
    "recorded by a provider (responded), of them anonymous, and the response rate responded "
    "over invited with its 95 % Wilson interval; no rate is given where more answered than "
    "were invited, since an answer on paper needs no link. Per measure of the instrument: "
    "the number who answered it and the mean with its 95 % t interval, or the share "
    "answering yes with its 95 % Wilson interval; by cohort, age band and area from answers "
    "given under a pseudonym. The change between two waves of one instrument (enrolment, "
    "days after enrolment, exit) is the mean of each person's difference for the pseudonyms "
    "who answered both, with a paired 95 % t interval; anonymous answers cannot be paired. "
    "Continuity is the share of respondents to the relational questions who have one person "
    "they can contact about their situation, per quarter of answering, with its Wilson "
    "interval. A figure about fewer than {k} respondents is suppressed for every reader, "
    "since well-being answers may be health data, and so is a second cell of a breakdown "
    "where the total would give the first back; fewer than {k} anonymous answers are shown "
    "only as such. Citizen voice informs decisions and never changes a payment."
)


@dataclass(frozen=True)
class Wave:
    """What the results need of a survey wave besides its answers."""

    id: UUID
    title: str
    instrument: Instrument
    timepoint: str
    days: int | None
    opens_on: dt.date
    closes_on: dt.date
    invited: int
    you_said: str | None = None
    we_did: str | None = None


def method(k: int) -> str:
    return METHOD.format(k=k)


# The answers frame --------------------------------------------------------------------------


def answers_frame(rows: Iterable[dict], scores: Sequence[dict]) -> pd.DataFrame:
    """One row per answer: wave, participant (None when anonymous), submitted_on, cohort,
    age_band, area, and a column `score:<measure>` per measure scored (NaN where the answer
    does not give it). `rows` and `scores` are in the same order."""
    frame = pd.DataFrame(list(rows), columns=list(ANSWER_COLUMNS))
    for name in ("wave", "participant"):
        frame[name] = frame[name].map(lambda v: None if v is None or v != v else str(v))
    for name in DIMENSIONS:
        frame[name] = frame[name].map(lambda v: "" if v is None or v != v else str(v))
    values = pd.DataFrame.from_records(list(scores), index=frame.index) if len(frame) \
        else pd.DataFrame(index=frame.index)
    values = values.apply(pd.to_numeric, errors="coerce").astype(float)
    values.columns = [SCORE + str(c) for c in values.columns]
    return pd.concat([frame, values], axis=1)


def _scores(frame: pd.DataFrame, code: str) -> pd.Series:
    column = SCORE + code
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return frame[column].astype(float)


# Figures -------------------------------------------------------------------------------------


def t_interval(n: np.ndarray, mean: np.ndarray, sd: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """95 % t interval of a mean from n, mean and sample standard deviation; NaN below n = 2."""
    n = np.asarray(n, dtype=float)
    ok = n >= 2
    half = np.full(n.shape, np.nan)
    if ok.any():
        half[ok] = stats.t.ppf(0.975, n[ok] - 1) * np.asarray(sd, float)[ok] / np.sqrt(n[ok])
    return np.asarray(mean, float) - half, np.asarray(mean, float) + half


def describe(values: pd.Series, keys: pd.Series, kind: str) -> pd.DataFrame:
    """Per key: n (values given), mean (for a share: the share of ones), low and high (95 %
    t interval of the mean, or Wilson interval of the share)."""
    data = pd.DataFrame({"key": keys.to_numpy(), "v": values.to_numpy(dtype=float)})
    data = data[np.isfinite(data["v"])]
    grouped = data.groupby("key", sort=True)["v"]
    out = pd.DataFrame({"n": grouped.count(), "mean": grouped.mean(),
                        "sd": grouped.std(ddof=1), "x": grouped.sum()})
    out.index.name = "key"
    out = out.reset_index()
    if kind == "share":
        low, high = wilson(out["x"].round(), out["n"])
    else:
        low, high = t_interval(out["n"].to_numpy(), out["mean"].to_numpy(),
                               out["sd"].fillna(0).to_numpy())
    out["low"], out["high"] = low, high
    out["n"] = out["n"].astype("int64")
    return out[["key", "n", "mean", "low", "high"]]


def _figures(values: pd.Series, kind: str) -> dict:
    """n, mean, low, high of all `values` at once."""
    found = describe(values, pd.Series(0, index=values.index), kind)
    if found.empty:
        return {"n": 0, "mean": np.nan, "low": np.nan, "high": np.nan}
    return found.iloc[0][["n", "mean", "low", "high"]].to_dict()


def _num(value) -> float | None:
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, 6)


def _int(value) -> int | None:
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if np.isnan(value) else int(value)


def _measure(measure: Measure, row: dict, language: str) -> MeasureResult:
    return MeasureResult(
        code=measure.code, name=measure.name.get(language), kind=measure.kind,
        better=measure.better, minimum=float(measure.minimum),
        maximum=float(measure.maximum), n=_int(row.get("n")), value=_num(row.get("mean")),
        low=_num(row.get("low")), high=_num(row.get("high")),
        suppressed=bool(row.get("suppressed", False)),
        suppression=str(row.get("suppression") or ""))


def measures_table(answers: pd.DataFrame, measures: Sequence[Measure], k: int
                   ) -> pd.DataFrame:
    """One row per measure over all `answers`: code, n, mean, low, high, suppressed below
    k respondents."""
    rows = [{"code": m.code, "enrolled": 0, **_figures(_scores(answers, m.code), m.kind)}
            for m in measures]
    frame = pd.DataFrame(rows, columns=["code", "enrolled", "n", "mean", "low", "high"])
    frame["enrolled"] = frame["n"]
    return suppress(frame, k=k).drop(columns=["enrolled"])


def anonymous_shown(count: int, k: int) -> int | None:
    """The count of anonymous answers as it may be shown: None ("fewer than k") from 1 to
    k - 1, so that it cannot be subtracted from anything."""
    return None if 0 < count < k else int(count)


def breakdown(answers: pd.DataFrame, dimension: str, measures: Sequence[Measure], k: int
              ) -> pd.DataFrame:
    """One wave's answers by `dimension`: per value and measure the respondents, n, mean,
    low and high, with primary and complementary suppression.

    Respondents: the table's total is the pseudonymous answers when the count of anonymous
    answers is shown (none, or at least k); when it is hidden, the total is every answer and
    the anonymous answers are a hidden cell of the table. Measures: the total is the wave's
    figure over every answer (shown with the wave), the anonymous answers a cell that is
    never shown. A value whose respondents are hidden has its measures hidden too.

    Columns: value, respondents, code, n, mean, low, high, suppressed, suppression (one row
    per value and measure; one row per value with code "" for the respondents).
    """
    named = answers["participant"].notna()
    anonymous = int((~named).sum())
    keys = answers[dimension].where(named, _ANONYMOUS)
    values = sorted(v for v in keys.unique() if v != _ANONYMOUS)
    if not values:
        return pd.DataFrame(columns=["value", "respondents", "code", "n", "mean", "low",
                                     "high", "suppressed", "suppression"])

    # Respondents per value.
    per_value = keys.value_counts()
    hidden_anonymous = anonymous_shown(anonymous, k) is None
    rows = [{"value": v, "enrolled": int(per_value.get(v, 0)), "is_total": False}
            for v in values]
    if hidden_anonymous:
        rows.append({"value": _ANONYMOUS, "enrolled": anonymous, "is_total": False})
        total = len(answers)
    else:
        total = int(named.sum())
    rows.append({"value": "", "enrolled": total, "is_total": True})
    people = suppress(pd.DataFrame(rows), k=k)
    people = people[~people["is_total"] & (people["value"] != _ANONYMOUS)]
    hidden_people = dict(zip(people["value"], people["suppressed"], strict=True))
    out = [{"value": v, "respondents": _int(r), "code": "", "n": None, "mean": np.nan,
            "low": np.nan, "high": np.nan, "suppressed": bool(s), "suppression": str(why)}
           for v, r, s, why in zip(people["value"], people["enrolled"], people["suppressed"],
                                   people["suppression"], strict=True)]

    # Each measure per value.
    for m in measures:
        scores = _scores(answers, m.code)
        found = describe(scores, keys, m.kind).set_index("key")
        whole = _figures(scores, m.kind)
        rows = [{"value": v, "is_total": False,
                 **(found.loc[v].to_dict() if v in found.index
                    else {"n": 0, "mean": np.nan, "low": np.nan, "high": np.nan})}
                for v in [*values, _ANONYMOUS]]
        rows.append({"value": "", "is_total": True, **whole})
        table = pd.DataFrame(rows)
        table["enrolled"] = table["n"]
        table = suppress(table, k=k)
        for r in table.to_dict("records"):
            if r["is_total"] or r["value"] == _ANONYMOUS:
                continue
            forced = hidden_people[r["value"]] and not r["suppressed"]
            if forced:
                r.update(n=None, mean=np.nan, low=np.nan, high=np.nan, suppressed=True,
                         suppression="complementary")
            out.append({"value": r["value"], "respondents": None, "code": m.code,
                        "n": _int(r["n"]), "mean": r["mean"], "low": r["low"],
                        "high": r["high"], "suppressed": bool(r["suppressed"]),
                        "suppression": str(r["suppression"])})
    return pd.DataFrame(out)


def _order(wave: Wave) -> tuple:
    rank = {"enrolment": 0, "days_after_enrolment": 1, "exit": 2}.get(wave.timepoint, 1)
    return (rank, wave.days or 0, wave.opens_on, wave.title, str(wave.id))


def wave_pairs(waves: Sequence[Wave]) -> list[tuple[Wave, Wave]]:
    """The pairs of waves a change is given for: per instrument, each wave and the next in
    timepoint order, and the first and the last where there are more than two."""
    by_instrument: dict[tuple[str, str], list[Wave]] = {}
    for w in waves:
        key = (w.instrument.code, w.instrument.name)
        by_instrument.setdefault(key, []).append(w)
    pairs = []
    for group in by_instrument.values():
        group = sorted(group, key=_order)
        pairs += list(pairwise(group))
        if len(group) > 2:
            pairs.append((group[0], group[-1]))
    return pairs


def change(before: pd.DataFrame, after: pd.DataFrame, code: str) -> dict:
    """The change of measure `code` from one wave to another for the pseudonyms who answered
    both: n pairs, mean difference (after minus before) and its paired 95 % t interval."""
    a = before[before["participant"].notna()]
    b = after[after["participant"].notna()]
    left = pd.DataFrame({"participant": a["participant"], "x": _scores(a, code)}).dropna()
    right = pd.DataFrame({"participant": b["participant"], "y": _scores(b, code)}).dropna()
    pairs = left.drop_duplicates("participant").merge(
        right.drop_duplicates("participant"), on="participant")
    diff = (pairs["y"] - pairs["x"]).to_numpy(dtype=float)
    n = len(diff)
    if not n:
        return {"n": 0, "mean": np.nan, "low": np.nan, "high": np.nan}
    sd = float(np.std(diff, ddof=1)) if n >= 2 else 0.0
    low, high = t_interval(np.array([n]), np.array([diff.mean()]), np.array([sd]))
    return {"n": n, "mean": float(diff.mean()), "low": float(low[0]), "high": float(high[0])}


def quarter(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def continuity(answers: pd.DataFrame, waves: Sequence[Wave], k: int) -> pd.DataFrame:
    """Per calendar quarter of answering, the share of respondents to the relational
    questions who have one contact person: quarter, n, mean (the share), low, high,
    suppressed below k respondents."""
    instrument, code = CONTINUITY
    ids = {str(w.id) for w in waves if w.instrument.code == instrument and w.instrument.shipped}
    mine = answers[answers["wave"].isin(ids)]
    columns = ["quarter", "n", "mean", "low", "high", "suppressed", "suppression"]
    if mine.empty:
        return pd.DataFrame(columns=columns)
    quarters = pd.Series([quarter(d) for d in mine["submitted_on"]], index=mine.index)
    found = describe(_scores(mine, code), quarters, "share").rename(columns={"key": "quarter"})
    found["enrolled"] = found["n"]
    return suppress(found, k=k)[columns]


# The results ---------------------------------------------------------------------------------


def build(contract_id: UUID, waves: Sequence[Wave], answers: pd.DataFrame, *, k: int,
          language: str = "en") -> VoiceResults:
    """Every result of a contract's citizen voice from its waves and answers (see the
    module's docstring)."""
    by_wave = dict(tuple(answers.groupby("wave", sort=False))) if len(answers) else {}
    empty = answers.iloc[0:0]
    out = []
    for wave in sorted(waves, key=lambda w: (w.opens_on, _order(w))):
        mine = by_wave.get(str(wave.id), empty)
        instrument = wave.instrument
        responded = len(mine)
        anonymous = int(mine["participant"].isna().sum())
        rate = low = high = None
        if wave.invited > 0 and responded <= wave.invited:
            lo, hi = wilson([responded], [wave.invited])
            rate, low, high = responded / wave.invited, _num(lo[0]), _num(hi[0])
        table = measures_table(mine, instrument.measures, k).set_index("code")
        measures = [_measure(m, table.loc[m.code].to_dict(), language)
                    for m in instrument.measures]
        groups = []
        for dimension in DIMENSIONS:
            parts = breakdown(mine, dimension, instrument.measures, k)
            for value, rows in parts.groupby("value", sort=True):
                head = rows[rows["code"] == ""].iloc[0]
                found = {r["code"]: r for r in rows.to_dict("records") if r["code"]}
                groups.append(GroupResult(
                    dimension=dimension, value=str(value) or NOT_GIVEN,
                    respondents=_int(head["respondents"]),
                    measures=[_measure(m, found.get(m.code, {}), language)
                              for m in instrument.measures],
                    suppressed=bool(head["suppressed"]),
                    suppression=str(head["suppression"])))
        out.append(WaveResult(
            wave_id=wave.id, title=wave.title, instrument=instrument.code,
            instrument_name=instrument.name, attribution=instrument.attribution,
            timepoint=wave.timepoint, days=wave.days, opens_on=wave.opens_on,
            closes_on=wave.closes_on, invited=wave.invited, responded=responded,
            anonymous=anonymous_shown(anonymous, k),
            response_rate=_num(rate), response_rate_low=low, response_rate_high=high,
            measures=measures, groups=groups, you_said=wave.you_said, we_did=wave.we_did))

    changes = []
    for before, after in wave_pairs(waves):
        for m in before.instrument.measures:
            if m.kind != "mean":
                continue
            c = change(by_wave.get(str(before.id), empty), by_wave.get(str(after.id), empty),
                       m.code)
            row = suppress(pd.DataFrame([{**c, "enrolled": c["n"]}]), k=k).iloc[0]
            changes.append(ChangeResult(
                from_wave_id=before.id, to_wave_id=after.id, measure=m.code,
                name=m.name.get(language), better=m.better, n=_int(row["n"]),
                mean=_num(row["mean"]), low=_num(row["low"]), high=_num(row["high"]),
                suppressed=bool(row["suppressed"])))

    points = [ContinuityPoint(quarter=str(r["quarter"]), n=_int(r["n"]),
                              share=_num(r["mean"]), low=_num(r["low"]), high=_num(r["high"]),
                              suppressed=bool(r["suppressed"]))
              for r in continuity(answers, waves, k).to_dict("records")]
    return VoiceResults(contract_id=contract_id, k=k, language=language, waves=out,
                        changes=changes, continuity=points, method=method(k))
