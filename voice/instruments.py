"""Questionnaires: their items per language, their scales, their scoring, and their licence.

Virker ships the instruments whose licence lets a product carry their items, with the
attribution the licence asks for (see ../docs/citizen-voice.md):

- `ons4`: the UK Office for National Statistics' four personal well-being questions (life
  satisfaction, worthwhile, happiness, anxiety), each 0-10 and each reported on its own, never
  summed. Free to use with citation. The Danish and Norwegian wording is Virker's translation.
- `who5`: the WHO-5 Well-Being Index, five items 0-5 about the last two weeks; the raw sum
  (0-25) times 4 gives the index 0-100. Public domain, source named; the Danish version is its
  authors' (Psychiatric Research Unit, Mental Health Centre North Zealand).
- `gas`: Goal Attainment Scaling, a method rather than items: each personal goal is scored
  -2 (much less than expected) to +2 (much more than expected) and the goals are summarised
  as a T-score, 50 + 10·Σw·x / sqrt((1-ρ)Σw² + ρ(Σw)²) with ρ = 0.3 (Kiresuk and Sherman,
  1968). The goals' own words stay with the provider: Virker keeps the scores only.
- `relational`: Virker's own short questions about being met as a person: one contact
  person, being asked what matters, how much it helped.

A commissioner holding a licence for another instrument (WEMWBS, PSS, ...) may add it with
its items, scale and scoring (`sum` or `mean`, optionally times a factor, with items that
are scored in reverse) and its licence note; it is then theirs alone to use.

Pure: no I/O, no framework.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

Language = Literal["da", "nb", "en"]
LANGUAGES: tuple[Language, ...] = ("da", "nb", "en")
GAS_RHO = 0.3
MAX_GOALS = 5


class Texts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One text in each language Virker speaks."""

    da: str
    nb: str
    en: str

    def get(self, language: str) -> str:
        return getattr(self, language if language in LANGUAGES else "en")


class Item(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One question. `kind` scale: a whole number from `minimum` to `maximum`, with the
    words at the two ends (or one label per point in `labels`); yes_no: 1 for yes, 0 for no;
    goal: a GAS goal scored -2..+2."""

    code: str
    kind: Literal["scale", "yes_no", "goal"] = "scale"
    text: Texts
    minimum: int = 0
    maximum: int = 10
    low_label: Texts | None = None
    high_label: Texts | None = None
    labels: list[Texts] = []
    reverse: bool = False


class Measure(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One figure an instrument yields per response, and how to read it.

    kind mean: a score averaged over respondents (with a t interval), on the scale
    `minimum`..`maximum`, where `better` says which way is good; share: the share of
    respondents answering yes (with a Wilson interval)."""

    code: str
    name: Texts
    kind: Literal["mean", "share"] = "mean"
    minimum: float = 0
    maximum: float = 100
    better: Literal["higher", "lower"] = "higher"


class Instrument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    name: str
    version: str = "1"
    licence: str
    attribution: str
    introduction: Texts | None = None
    items: list[Item]
    measures: list[Measure]
    # ons4 / who5 / gas / relational are Virker's own rules; sum / mean for added ones.
    scoring: Literal["ons4", "who5", "gas", "relational", "sum", "mean"]
    factor: float = 1.0
    shipped: bool = True


class AnswerError(ValueError):
    """An answer that does not fit the instrument: `item` names the question (or "answers")."""

    def __init__(self, item: str, code: str, message: str) -> None:
        super().__init__(message)
        self.item = item
        self.code = code
        self.message = message


def _t(da: str, nb: str, en: str) -> Texts:
    return Texts(da=da, nb=nb, en=en)


_NOT_AT_ALL = _t("Slet ikke", "Ikke i det hele tatt", "Not at all")
_COMPLETELY = _t("Fuldstændig", "Fullstendig", "Completely")

ONS4 = Instrument(
    code="ons4", name="ONS4 personal well-being", version="2011",
    licence="Free to use with citation (Open Government Licence v3.0).",
    attribution=("Office for National Statistics, Personal well-being questions (ONS4). "
                 "Danish and Norwegian wording: Virker's translation."),
    introduction=_t(
        "Svar på en skala fra 0 til 10, hvor 0 er 'slet ikke' og 10 er 'fuldstændig'.",
        "Svar på en skala fra 0 til 10, der 0 er 'ikke i det hele tatt' og 10 er "
        "'fullstendig'.",
        "Answer on a scale from 0 to 10, where 0 is 'not at all' and 10 is 'completely'."),
    items=[
        Item(code="life_satisfaction", text=_t(
            "Alt i alt, hvor tilfreds er du med dit liv for tiden?",
            "Alt i alt, hvor fornøyd er du med livet ditt nå for tiden?",
            "Overall, how satisfied are you with your life nowadays?"),
            low_label=_NOT_AT_ALL, high_label=_COMPLETELY),
        Item(code="worthwhile", text=_t(
            "Alt i alt, i hvilken grad føler du, at de ting, du gør i dit liv, er værd at "
            "gøre?",
            "Alt i alt, i hvilken grad føler du at tingene du gjør i livet ditt, er verdt å "
            "gjøre?",
            "Overall, to what extent do you feel that the things you do in your life are "
            "worthwhile?"),
            low_label=_NOT_AT_ALL, high_label=_COMPLETELY),
        Item(code="happiness", text=_t(
            "Alt i alt, hvor glad følte du dig i går?",
            "Alt i alt, hvor glad følte du deg i går?",
            "Overall, how happy did you feel yesterday?"),
            low_label=_NOT_AT_ALL, high_label=_COMPLETELY),
        Item(code="anxiety", text=_t(
            "Alt i alt, hvor bekymret følte du dig i går?",
            "Alt i alt, hvor engstelig følte du deg i går?",
            "Overall, how anxious did you feel yesterday?"),
            low_label=_NOT_AT_ALL, high_label=_COMPLETELY),
    ],
    measures=[
        Measure(code="life_satisfaction", name=_t("Tilfredshed med livet", "Tilfredshet med "
                "livet", "Life satisfaction"), minimum=0, maximum=10),
        Measure(code="worthwhile", name=_t("Meningsfuldhed", "Mening", "Worthwhile"),
                minimum=0, maximum=10),
        Measure(code="happiness", name=_t("Glæde i går", "Glede i går", "Happiness yesterday"),
                minimum=0, maximum=10),
        Measure(code="anxiety", name=_t("Bekymring i går", "Engstelse i går",
                "Anxiety yesterday"), minimum=0, maximum=10, better="lower"),
        # The ONS thresholds: a rating of 0-4 is low (for anxiety 6-10 is high).
        Measure(code="low_life_satisfaction", kind="share", name=_t(
            "Lav tilfredshed med livet (0-4)", "Lav tilfredshet med livet (0-4)",
            "Low life satisfaction (0-4)"), minimum=0, maximum=1, better="lower"),
        Measure(code="high_anxiety", kind="share", name=_t(
            "Høj bekymring (6-10)", "Høy engstelse (6-10)", "High anxiety (6-10)"),
            minimum=0, maximum=1, better="lower"),
    ],
    scoring="ons4",
)

_WHO5_SCALE = [
    _t("På intet tidspunkt", "Ikke i det hele tatt", "At no time"),
    _t("Lidt af tiden", "Litt av tiden", "Some of the time"),
    _t("Lidt mindre end halvdelen af tiden", "Litt mindre enn halvparten av tiden",
       "Less than half of the time"),
    _t("Lidt mere end halvdelen af tiden", "Litt mer enn halvparten av tiden",
       "More than half of the time"),
    _t("Det meste af tiden", "Mesteparten av tiden", "Most of the time"),
    _t("Hele tiden", "Hele tiden", "All of the time"),
]


def _who5_item(code: str, da: str, nb: str, en: str) -> Item:
    return Item(code=code, text=_t(da, nb, en), minimum=0, maximum=5, labels=_WHO5_SCALE)


WHO5 = Instrument(
    code="who5", name="WHO-5 Well-Being Index", version="1998",
    licence="Public domain; the source must be named.",
    attribution=("WHO-5 Well-Being Index, World Health Organization Regional Office for "
                 "Europe (1998); Danish version by Psychiatric Research Unit, Mental Health "
                 "Centre North Zealand. Norwegian wording as commonly used in Norway."),
    introduction=_t(
        "Hvordan har du haft det i de sidste to uger?",
        "Hvordan har du hatt det de siste to ukene?",
        "Over the last two weeks:"),
    items=[
        _who5_item("cheerful", "Jeg har været glad og i godt humør",
                   "Jeg har vært glad og i godt humør",
                   "I have felt cheerful and in good spirits"),
        _who5_item("calm", "Jeg har følt mig rolig og afslappet",
                   "Jeg har følt meg rolig og avslappet", "I have felt calm and relaxed"),
        _who5_item("active", "Jeg har følt mig aktiv og energisk",
                   "Jeg har følt meg aktiv og energisk", "I have felt active and vigorous"),
        _who5_item("rested", "Jeg er vågnet frisk og udhvilet",
                   "Jeg har våknet opp frisk og uthvilt",
                   "I woke up feeling fresh and rested"),
        _who5_item("interest", "Min dagligdag har været fyldt med ting, der interesserer mig",
                   "Hverdagen min har vært fylt med ting som interesserer meg",
                   "My daily life has been filled with things that interest me"),
    ],
    measures=[
        Measure(code="index", name=_t("WHO-5-indeks (0-100)", "WHO-5-indeks (0-100)",
                "WHO-5 index (0-100)"), minimum=0, maximum=100),
        # An index of 50 or below is the WHO-5's own mark of poor well-being.
        Measure(code="poor_wellbeing", kind="share", name=_t(
            "Dårlig trivsel (indeks 50 eller under)", "Dårlig trivsel (indeks 50 eller under)",
            "Poor well-being (index 50 or below)"), minimum=0, maximum=1, better="lower"),
    ],
    scoring="who5",
)

_GAS_LABELS = [
    _t("Meget mindre end forventet", "Mye mindre enn forventet", "Much less than expected"),
    _t("Lidt mindre end forventet", "Litt mindre enn forventet", "Somewhat less than expected"),
    _t("Som forventet", "Som forventet", "As expected"),
    _t("Lidt mere end forventet", "Litt mer enn forventet", "Somewhat more than expected"),
    _t("Meget mere end forventet", "Mye mer enn forventet", "Much more than expected"),
]

GAS = Instrument(
    code="gas", name="Goal Attainment Scaling", version="1968",
    licence="A method without items; free to use.",
    attribution=("Goal Attainment Scaling, Kiresuk T.J. and Sherman R.E. (1968), "
                 "Community Mental Health Journal 4(6):443-453; T-score with rho = 0.3."),
    introduction=_t(
        "Tænk på de mål, du har sat dig sammen med din kontaktperson. Hvordan er det gået?",
        "Tenk på målene du har satt deg sammen med kontaktpersonen din. Hvordan har det gått?",
        "Think of the goals you set with your contact person. How did it go?"),
    items=[Item(code=f"goal_{i}", kind="goal", minimum=-2, maximum=2, labels=_GAS_LABELS,
                text=_t(f"Mål {i}", f"Mål {i}", f"Goal {i}"))
           for i in range(1, MAX_GOALS + 1)],
    measures=[
        Measure(code="t_score", name=_t("Målopfyldelse (T-score)", "Måloppnåelse (T-skår)",
                "Goal attainment (T-score)"), minimum=0, maximum=100),
        Measure(code="goals_met", kind="share", name=_t(
            "Alle mål nået som forventet eller bedre", "Alle mål nådd som forventet eller bedre",
            "Every goal met as expected or better"), minimum=0, maximum=1),
    ],
    scoring="gas",
)

_YES_NO = [_t("Nej", "Nei", "No"), _t("Ja", "Ja", "Yes")]

RELATIONAL = Instrument(
    code="relational", name="Virker relational questions", version="1",
    licence="Virker's own questions; free to use.",
    attribution="Virker.",
    items=[
        Item(code="contact_person", kind="yes_no", minimum=0, maximum=1, labels=_YES_NO,
             text=_t("Har du én person, du kan kontakte om din situation?",
                     "Har du én person du kan kontakte om situasjonen din?",
                     "Do you have one person you can contact about your situation?")),
        Item(code="asked_what_matters", kind="yes_no", minimum=0, maximum=1, labels=_YES_NO,
             text=_t("Blev du spurgt, hvad der er vigtigt for dig?",
                     "Ble du spurt om hva som er viktig for deg?",
                     "Were you asked what matters to you?")),
        Item(code="helped", minimum=0, maximum=10,
             low_label=_t("Slet ikke", "Ikke i det hele tatt", "Not at all"),
             high_label=_t("Rigtig meget", "Veldig mye", "A great deal"),
             text=_t("Hvor meget hjalp det?", "Hvor mye hjalp det?",
                     "How much did this help?")),
    ],
    measures=[
        Measure(code="contact_person", kind="share", name=_t(
            "Har én kontaktperson", "Har én kontaktperson", "Has one contact person"),
            minimum=0, maximum=1),
        Measure(code="asked_what_matters", kind="share", name=_t(
            "Blev spurgt, hvad der er vigtigt", "Ble spurt om hva som er viktig",
            "Asked what matters"), minimum=0, maximum=1),
        Measure(code="helped", name=_t("Hvor meget det hjalp (0-10)",
                "Hvor mye det hjalp (0-10)", "How much it helped (0-10)"),
                minimum=0, maximum=10),
        # Keystone's reading of feedback: 9-10 positive, 7-8 neutral, 0-6 negative.
        Measure(code="helped_positive", kind="share", name=_t(
            "Positive (9-10)", "Positive (9-10)", "Positive (9-10)"), minimum=0, maximum=1),
        Measure(code="helped_negative", kind="share", name=_t(
            "Negative (0-6)", "Negative (0-6)", "Negative (0-6)"), minimum=0, maximum=1,
            better="lower"),
    ],
    scoring="relational",
)

LIBRARY: dict[str, Instrument] = {i.code: i for i in (ONS4, WHO5, GAS, RELATIONAL)}

Answers = dict[str, int | None]
Scores = dict[str, float]


def check(instrument: Instrument, answers: dict[str, object]) -> dict[str, int]:
    """The answers kept: each a whole number within its item's scale; unknown items refused,
    unanswered items (None or absent) left out. At least one item must be answered."""
    items = {i.code: i for i in instrument.items}
    kept: dict[str, int] = {}
    for code, value in answers.items():
        item = items.get(code)
        if item is None:
            raise AnswerError(code, "unknown_item",
                              f"{instrument.code} has no question {code!r}; it has "
                              + ", ".join(items))
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise AnswerError(code, "answer_out_of_range",
                              f"the answer to {code} must be a whole number")
        if not item.minimum <= value <= item.maximum:
            raise AnswerError(code, "answer_out_of_range",
                              f"the answer to {code} must be from {item.minimum} to "
                              f"{item.maximum}")
        kept[code] = value
    if not kept:
        raise AnswerError("answers", "no_answers", "no question was answered")
    return kept


def gas_t_score(scores: list[int], weights: list[float] | None = None,
                rho: float = GAS_RHO) -> float:
    """Kiresuk and Sherman's T-score of goal attainment scores (each -2..+2), each goal
    weighted by its importance (equal weights when none are given)."""
    if not scores:
        raise ValueError("no goals")
    if any(isinstance(x, bool) or not isinstance(x, int) or not -2 <= x <= 2 for x in scores):
        raise ValueError("a goal is scored with a whole number from -2 to +2")
    w = [1.0] * len(scores) if weights is None else [float(x) for x in weights]
    if len(w) != len(scores):
        raise ValueError("one weight per goal")
    if not all(math.isfinite(x) and x > 0 for x in w):
        # A weight of 0 or below would leave the denominator 0 or turn a goal round.
        raise ValueError("a goal's weight is a positive number")
    if not 0 <= rho <= 1:
        raise ValueError("rho, the goals' intercorrelation, is from 0 to 1")
    sw = sum(w)
    sw2 = sum(x * x for x in w)
    return 50 + 10 * sum(wi * xi for wi, xi in zip(w, scores, strict=True)) / math.sqrt(
        (1 - rho) * sw2 + rho * sw * sw)


def score(instrument: Instrument, answers: dict[str, int]) -> Scores:
    """The instrument's measures for one response (answers already `check`ed). A measure
    whose items were not all answered is left out rather than guessed."""
    a = answers
    out: Scores = {}
    if instrument.scoring == "ons4":
        for code in ("life_satisfaction", "worthwhile", "happiness", "anxiety"):
            if code in a:
                out[code] = float(a[code])
        if "life_satisfaction" in a:
            out["low_life_satisfaction"] = float(a["life_satisfaction"] <= 4)
        if "anxiety" in a:
            out["high_anxiety"] = float(a["anxiety"] >= 6)
    elif instrument.scoring == "who5":
        if len(a) == len(instrument.items):
            index = sum(a.values()) * 4
            out["index"] = float(index)
            out["poor_wellbeing"] = float(index <= 50)
    elif instrument.scoring == "gas":
        goals = [a[i.code] for i in instrument.items if i.code in a]
        if goals:
            out["t_score"] = round(gas_t_score(goals), 6)
            out["goals_met"] = float(all(g >= 0 for g in goals))
    elif instrument.scoring == "relational":
        for code in ("contact_person", "asked_what_matters", "helped"):
            if code in a:
                out[code] = float(a[code])
        if "helped" in a:
            out["helped_positive"] = float(a["helped"] >= 9)
            out["helped_negative"] = float(a["helped"] <= 6)
    else:
        if len(a) == len(instrument.items):
            values = [(i.minimum + i.maximum - a[i.code]) if i.reverse else a[i.code]
                      for i in instrument.items]
            total = sum(values) if instrument.scoring == "sum" else sum(values) / len(values)
            out[instrument.measures[0].code] = round(total * instrument.factor, 6)
    return out


def custom(code: str, name: str, licence: str, attribution: str, items: list[Item],
           scoring: Literal["sum", "mean"], factor: float, measure: Measure,
           introduction: Texts | None = None) -> Instrument:
    """An instrument a commissioner adds under its own licence: one measure, the sum or mean
    of its items (reverse-scored items turned round) times `factor`."""
    if code in LIBRARY:
        raise ValueError(f"{code} is one of Virker's own instruments")
    if not items:
        raise ValueError("an instrument needs at least one item")
    if len({i.code for i in items}) != len(items):
        raise ValueError("item codes must differ")
    for i in items:
        if i.kind != "scale" or i.minimum >= i.maximum:
            raise ValueError(f"item {i.code}: a scale from a lower to a higher whole number")
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError("the factor is a positive number")
    return Instrument(code=code, name=name, licence=licence, attribution=attribution,
                      introduction=introduction, items=items, measures=[measure],
                      scoring=scoring, factor=factor, shipped=False)
