"""The contract designer's form: what a person typed, read into the terms Virker takes, and
the most the terms could cost. Pure: no I/O, no framework.

The form works without JavaScript. A rate card line is a group of fields named
`line-<i>-<name>` with a `remove` checkbox; a commissioner's share `commissioner-<i>-org`
and `-share`; a partner `partner-<i>-org` and `-split`; auditors are checkboxes named
`auditor`. Rows left empty are dropped, and the rows kept are numbered again in order, so
that row i of the form shown back is line i of the terms.

Numbers are read as the reader writes them (Babel's CLDR data for the language): amounts in
major units ("15.000,50" in Danish) become integer minor units exactly, through Decimal and
never a float; rates and shares typed in per cent become basis points. Every problem names
the field of the terms it concerns, as the services' problems do
(`terms.rate_card[0].price`), so that the page shows each next to its field. What was typed
is kept as text, so that a form shown back with its problems holds what the person wrote.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import msgspec
from babel.numbers import NumberFormatError, format_decimal, get_group_symbol, parse_decimal

from api.web import i18n
from contracts.errors import Invalid, Problem
from contracts.money import MINOR_UNITS
from contracts.schemas import (
    CommissionerShare,
    ContractIn,
    ContractTerms,
    PartnerShare,
    RateCardLine,
    VariationIn,
    validation_problem,
)
from reports.formats import LOCALES

Translate = Callable[..., str]

LINE = {"code": "", "kind": "outcome", "metric": "", "price": "", "anchor": "enrolment",
        "start_day": "", "end_day": "", "prerequisite": "", "exclusivity": "",
        "max_claims": "1", "max_count": "", "max_amount": "", "threshold": "", "target": "",
        "baseline_kind": "", "baseline_rate": "", "baseline_source": "", "baseline_n": "",
        "horizon": "", "cohort": "", "evaluation_on": "", "cohort_threshold": ""}
SHARE = {"org": "", "share": ""}
PARTNER = {"org": "", "split": ""}
FIELDS = {"reference": "", "title": "", "intervention": "", "provider_id": "",
          "currency": "DKK", "service_start": "", "service_end": "", "enrolment_start": "",
          "enrolment_end": "", "claims_deadline": "", "cap": "", "per_participant_cap": "",
          "sampling_rate": "10", "partner_payment": "by_claimant", "reason": "",
          "effective_on": ""}
ROWS = {"line": LINE, "commissioner": SHARE, "partner": PARTNER}
MAX_ROWS = 100  # of each kind: a rate card longer than this is not typed into a form
_ROW = re.compile(r"^(line|commissioner|partner)-(\d{1,3})-([a-z_]+)$")
_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")
# Digits with separators only: Babel would also read an exponent ("1e3") or "NaN".
_NUMBER = re.compile(r"-?[0-9][0-9.,' \u00a0\u202f\u2009]*")
_AT = re.compile(r" - at `\$\.?([^`]*)`")


@dataclass
class Designer:
    """The designer's form as typed: text, field by field."""

    fields: dict[str, str] = field(default_factory=lambda: dict(FIELDS))
    lines: list[dict[str, str]] = field(default_factory=list)
    commissioners: list[dict[str, str]] = field(default_factory=list)
    partners: list[dict[str, str]] = field(default_factory=list)
    auditors: list[str] = field(default_factory=list)
    blank_lines: int = 1

    def add_line(self, metric_code: str = "") -> None:
        if len(self.lines) + self.blank_lines >= MAX_ROWS:
            return
        if metric_code:
            taken = {line["code"] for line in self.lines}
            code = metric_code if metric_code not in taken else ""
            self.lines.append({**LINE, "metric": metric_code, "code": code})
        else:
            self.blank_lines += 1

    def rows(self) -> list[dict[str, str]]:
        """The lines to show: those typed, then the empty rows offered."""
        return [*self.lines, *(dict(LINE) for _ in range(self.blank_lines))]


def read_form(pairs: Iterable[tuple[str, str]]) -> Designer:
    """The designer from the posted form's (name, value) pairs."""
    d = Designer()
    rows: dict[str, dict[int, dict[str, str]]] = {kind: {} for kind in ROWS}
    removed: set[tuple[str, int]] = set()
    for name, value in pairs:
        value = value.strip() if isinstance(value, str) else ""
        if name in FIELDS:
            d.fields[name] = value
        elif name == "auditor":
            if value and value not in d.auditors:
                d.auditors.append(value)
        elif match := _ROW.match(name):
            kind, i, key = match[1], int(match[2]), match[3]
            if i >= MAX_ROWS:
                continue
            if key == "remove":
                removed.add((kind, i))
            elif key in ROWS[kind]:
                rows[kind].setdefault(i, dict(ROWS[kind]))[key] = value
    kept = {kind: [row for i, row in sorted(found.items())
                   if (kind, i) not in removed and row != ROWS[kind]]
            for kind, found in rows.items()}
    d.lines, d.commissioners, d.partners = (kept["line"], kept["commissioner"],
                                            kept["partner"])
    blank = sum(1 for i, row in rows["line"].items()
                if row == LINE and ("line", i) not in removed)
    d.blank_lines = max(1, min(blank, MAX_ROWS - len(d.lines)))
    return d


# Numbers as the reader writes them ---------------------------------------------------------


def _locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["en"])


def _decimal(text: str, lang: str) -> Decimal:
    """`text` as a number written in `lang`; NumberFormatError when it is not one."""
    if not _NUMBER.fullmatch(text):
        raise NumberFormatError(text)
    locale = _locale(lang)
    group = get_group_symbol(locale)
    if _SPACES.fullmatch(group):
        text = _SPACES.sub(group, text)
    number = parse_decimal(text, locale=locale, strict=True)
    if not number.is_finite():
        raise NumberFormatError(text)
    return number


def example_amount(lang: str) -> str:
    return format_decimal(Decimal("15000.50"), format="#,##0.00", locale=_locale(lang))


def example_percent(lang: str) -> str:
    return format_decimal(Decimal("12.5"), format="#,##0.0#", locale=_locale(lang))


def show_amount(amount: int, currency: str, lang: str) -> str:
    """Minor units as a person types them in major units (1500050 → "15.000,50")."""
    digits = MINOR_UNITS.get(currency, 2)
    pattern = "#,##0" + ("." + "0" * digits if digits and amount % 10**digits else "")
    return format_decimal(Decimal(amount).scaleb(-digits), format=pattern,
                          locale=_locale(lang))


def show_percent(bp: int | None, lang: str) -> str:
    """Basis points as per cent typed (1250 → "12,5")."""
    if bp is None:
        return ""
    return format_decimal(Decimal(bp).scaleb(-2), format="#,##0.##", locale=_locale(lang))


def show_number(value: int | str | None, lang: str) -> str:
    if value is None:
        return ""
    return format_decimal(Decimal(str(value)), format="0.######", locale=_locale(lang))


class Reader:
    """Reads the typed text of one form, collecting a problem per field it cannot read."""

    def __init__(self, lang: str, currency: str, t: Translate) -> None:
        self.lang, self.currency, self.t = lang, currency, t
        self.problems: list[Problem] = []

    def problem(self, code: str, where: str, message: str) -> None:
        self.problems.append(Problem(code=code, field=where, message=message))

    def required(self, text: str, where: str) -> str | None:
        if not text:
            self.problem("required", where, self.t("Fill this in."))
            return None
        return text

    def money(self, text: str, where: str, *, required: bool = False) -> dict | None:
        """Major units typed → {"amount": minor units, "currency": …}."""
        if not text:
            if required:
                self.required(text, where)
            return None
        digits = MINOR_UNITS.get(self.currency, 2)
        try:
            number = _decimal(text, self.lang)
        except (NumberFormatError, InvalidOperation):
            self.problem("invalid_amount", where, self.t(
                "Write an amount like %(example)s.", example=example_amount(self.lang)))
            return None
        minor = number.scaleb(digits)
        if number < 0 or minor != minor.to_integral_value():
            self.problem("invalid_amount", where, self.t(
                "An amount is zero or more, with at most %(digits)s decimals.",
                digits=digits))
            return None
        return {"amount": int(minor), "currency": self.currency}

    def basis_points(self, text: str, where: str, *, required: bool = False) -> int | None:
        """Per cent typed → basis points (12,5 % → 1250)."""
        if not text:
            if required:
                self.required(text, where)
            return None
        try:
            number = _decimal(text.rstrip("% \u00a0"), self.lang)
        except (NumberFormatError, InvalidOperation):
            self.problem("invalid_percent", where, self.t(
                "Write a percentage like %(example)s.", example=example_percent(self.lang)))
            return None
        bp = number.scaleb(2)
        if bp != bp.to_integral_value():
            self.problem("invalid_percent", where,
                         self.t("A percentage has at most two decimals."))
            return None
        return int(bp)

    def whole(self, text: str, where: str, *, required: bool = False) -> int | None:
        if not text:
            if required:
                self.required(text, where)
            return None
        try:
            number = _decimal(text, self.lang)
        except (NumberFormatError, InvalidOperation):
            number = None
        if number is None or number != number.to_integral_value():
            self.problem("invalid_number", where, self.t("Write a whole number."))
            return None
        return int(number)

    def decimal_text(self, text: str, where: str) -> str | None:
        """A decimal number typed → its text with a point ("2,5" → "2.5")."""
        if not text:
            return None
        try:
            number = _decimal(text, self.lang)
        except (NumberFormatError, InvalidOperation):
            self.problem("invalid_number", where, self.t("Write a number."))
            return None
        return format(number.normalize(), "f") if number != 0 else "0"

    def date(self, text: str, where: str, *, required: bool = False) -> str | None:
        if not text:
            if required:
                self.required(text, where)
            return None
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            self.problem("invalid_date", where,
                         self.t("Write a date as YYYY-MM-DD, e.g. 2025-09-01."))
            return None

    def uuid(self, text: str, where: str, *, required: bool = False) -> str | None:
        if not text:
            if required:
                self.problem("required", where, self.t("Choose one."))
            return None
        try:
            return str(UUID(text))
        except ValueError:
            self.problem("invalid_field", where, self.t("Choose one of the list."))
            return None

    def period(self, start: str, end: str, where: str) -> dict | None:
        a = self.date(start, where, required=True)
        b = self.date(end, where, required=True) if a or start else self.date(end, where)
        return {"start": a, "end": b} if a and b else None

    def piece(self, value: Any, cls: type, where: str) -> bool:
        """Whether `value` converts to `cls`; a problem at `where` (plus the path inside
        it) when it does not."""
        try:
            msgspec.convert(value, cls)
        except msgspec.ValidationError as exc:
            self.problems.append(struct_problem(str(exc), where, self.t))
            return False
        return True


def _patterns(t: Translate) -> dict[str, str]:
    """What a code or a reference may be written with, for the person typing it (msgspec
    names the regular expression)."""
    return {
        "^[a-z0-9][a-z0-9_.-]{0,63}$": t("Use lower-case letters, digits and _ . - only, "
                                         "starting with a letter or a digit."),
        "^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$": t("Use letters, digits and _ . / - only, "
                                                "starting with a letter or a digit."),
    }


def struct_problem(message: str, where: str, t: Translate | None = None) -> Problem:
    """A msgspec error at `where` (a dotted path, "" for the whole) as a Problem."""
    match = _AT.search(message)
    inner = match.group(1) if match else ""
    at = where + ("" if not inner else inner if inner.startswith("[") or not where
                  else "." + inner)
    problem = validation_problem(_AT.sub("", message), at, where or "body")
    pattern = re.search(r"matching regex '([^']*)'", message)
    said = _patterns(t).get(pattern.group(1)) if pattern and t else None
    return msgspec.structs.replace(problem, message=said) if said else problem


# The terms ---------------------------------------------------------------------------------


def _line(r: Reader, row: dict[str, str], at: str) -> dict:
    if not row["code"] and row["metric"]:
        row["code"] = row["metric"]
    out: dict[str, Any] = {
        "code": r.required(row["code"], f"{at}.code"),
        "metric_code": r.required(row["metric"], f"{at}.metric_code"),
        "kind": row["kind"] or "outcome",
        "price": r.money(row["price"], f"{at}.price", required=True),
    }
    start = r.whole(row["start_day"], f"{at}.window")
    end = r.whole(row["end_day"], f"{at}.window")
    if row["end_day"] or row["start_day"] or row["anchor"] != "enrolment":
        if end is None and not row["end_day"]:
            r.problem("required", f"{at}.window",
                      r.t("A window needs the day it ends (days after its anchor)."))
        elif end is not None:
            out["window"] = {"anchor": row["anchor"] or "enrolment",
                             "start_day": start or 0, "end_day": end}
    out["prerequisite_metric"] = row["prerequisite"] or None
    out["exclusivity_group"] = row["exclusivity"] or None
    claims = r.whole(row["max_claims"], f"{at}.max_claims_per_participant")
    if claims is not None:
        out["max_claims_per_participant"] = claims
    out["max_count"] = r.whole(row["max_count"], f"{at}.max_count")
    out["max_amount"] = r.money(row["max_amount"], f"{at}.max_amount")
    out["threshold"] = r.decimal_text(row["threshold"], f"{at}.threshold")
    out["target"] = r.whole(row["target"], f"{at}.target")
    out["horizon_days"] = r.whole(row["horizon"], f"{at}.horizon_days")
    baseline_typed = any(row[k] for k in ("baseline_rate", "baseline_source", "baseline_n"))
    if row["baseline_kind"] or baseline_typed:
        where = f"{at}.baseline"
        kind = row["baseline_kind"] or None
        if kind is None:
            r.problem("required", f"{where}.kind", r.t("Say where the baseline comes from."))
        rate = r.basis_points(row["baseline_rate"], f"{where}.rate_bp", required=True)
        source = r.required(row["baseline_source"], f"{where}.source")
        n = r.whole(row["baseline_n"], f"{where}.n")
        if kind and rate is not None and source:
            out["baseline"] = {"kind": kind, "rate_bp": rate, "source": source, "n": n}
    out["cohort"] = row["cohort"] or None
    out["evaluation_on"] = r.date(row["evaluation_on"], f"{at}.evaluation_on")
    out["cohort_threshold_bp"] = r.basis_points(row["cohort_threshold"],
                                                f"{at}.cohort_threshold_bp")
    return {k: v for k, v in out.items() if v is not None}


def read_terms(d: Designer, r: Reader) -> dict | None:
    """The terms typed (the ContractTerms dict), or None when a required part is missing.
    Problems are collected on `r`."""
    f = d.fields
    before = len(r.problems)
    terms: dict[str, Any] = {
        "service_period": r.period(f["service_start"], f["service_end"], "terms.service_period"),
        "enrolment_period": r.period(f["enrolment_start"], f["enrolment_end"],
                                     "terms.enrolment_period"),
        "claims_deadline": r.date(f["claims_deadline"], "terms.claims_deadline", required=True),
        "cap": r.money(f["cap"], "terms.cap", required=True),
        "per_participant_cap": r.money(f["per_participant_cap"], "terms.per_participant_cap"),
        "sampling_rate_bp": r.basis_points(f["sampling_rate"], "terms.sampling_rate_bp",
                                           required=True),
        "partner_payment": f["partner_payment"] or "by_claimant",
    }
    shares = []
    for i, row in enumerate(d.commissioners):
        at = f"terms.commissioners[{i}]"
        share = {"organisation_id": r.uuid(row["org"], f"{at}.organisation_id", required=True),
                 "share_bp": r.basis_points(row["share"], f"{at}.share_bp", required=True)}
        if None not in share.values() and r.piece(share, CommissionerShare, at):
            shares.append(share)
    partners = []
    for i, row in enumerate(d.partners):
        at = f"terms.partners[{i}]"
        partner = {"organisation_id": r.uuid(row["org"], f"{at}.organisation_id",
                                             required=True),
                   "split_bp": r.basis_points(row["split"], f"{at}.split_bp")}
        if partner["organisation_id"] and r.piece(partner, PartnerShare, at):
            partners.append(partner)
    auditors = [a for i, a in enumerate(d.auditors)
                if r.uuid(a, f"terms.auditor_ids[{i}]") is not None]
    lines = []
    for i, row in enumerate(d.lines):
        at, mark = f"terms.rate_card[{i}]", len(r.problems)
        line = _line(r, row, at)
        if len(r.problems) == mark and r.piece(line, RateCardLine, at):
            lines.append(line)
    terms.update(commissioners=shares, auditor_ids=auditors, partners=partners,
                 rate_card=lines)
    if len(r.problems) > before:
        return None
    outer = {**terms, "commissioners": [], "partners": [], "rate_card": []}
    if not r.piece(outer, ContractTerms, "terms"):
        return None
    return terms


def read_contract(d: Designer, lang: str, t: Translate) -> tuple[ContractIn | None,
                                                                 list[Problem]]:
    """A draft contract from the designer, or the problems that keep it from being one."""
    f = d.fields
    r = Reader(lang, f["currency"] or "DKK", t)
    head = {"reference": r.required(f["reference"], "reference"),
            "title": r.required(f["title"], "title"), "intervention": f["intervention"],
            "provider_id": r.uuid(f["provider_id"], "provider_id", required=True),
            "currency": r.required(f["currency"], "currency")}
    terms = read_terms(d, r)
    if r.problems or terms is None:
        return None, r.problems
    return _convert({**head, "terms": terms}, ContractIn, r)


def read_variation(d: Designer, lang: str, currency: str, t: Translate
                   ) -> tuple[VariationIn | None, list[Problem]]:
    """A variation (reason, date and the terms it proposes) from the designer."""
    f = d.fields
    r = Reader(lang, currency, t)
    head = {"reason": r.required(f["reason"], "reason"),
            "effective_on": r.date(f["effective_on"], "effective_on")}
    terms = read_terms(d, r)
    if r.problems or terms is None:
        return None, r.problems
    return _convert({**head, "terms": terms}, VariationIn, r)


def _convert(body: dict, cls: type, r: Reader) -> tuple[Any, list[Problem]]:
    try:
        return msgspec.convert(body, cls), []
    except msgspec.ValidationError as exc:
        return None, [struct_problem(str(exc), "", r.t)]


# The form from terms agreed ----------------------------------------------------------------


def from_terms(terms: ContractTerms, currency: str, lang: str) -> Designer:
    """The designer holding `terms`, as a person would have typed them."""
    def money(m: Any) -> str:
        return "" if m is None else show_amount(m.amount, currency, lang)

    d = Designer()
    d.fields.update(
        currency=currency, service_start=terms.service_period.start.isoformat(),
        service_end=terms.service_period.end.isoformat(),
        enrolment_start=terms.enrolment_period.start.isoformat(),
        enrolment_end=terms.enrolment_period.end.isoformat(),
        claims_deadline=terms.claims_deadline.isoformat(), cap=money(terms.cap),
        per_participant_cap=money(terms.per_participant_cap),
        sampling_rate=show_percent(terms.sampling_rate_bp, lang),
        partner_payment=terms.partner_payment)
    d.commissioners = [{"org": str(c.organisation_id),
                        "share": show_percent(c.share_bp, lang)} for c in terms.commissioners]
    d.partners = [{"org": str(p.organisation_id), "split": show_percent(p.split_bp, lang)}
                  for p in terms.partners]
    d.auditors = [str(a) for a in terms.auditor_ids]
    for line in terms.rate_card:
        w, b = line.window, line.baseline
        d.lines.append({
            **LINE, "code": line.code, "kind": line.kind, "metric": line.metric_code,
            "price": money(line.price),
            "anchor": w.anchor if w else "enrolment",
            "start_day": str(w.start_day) if w else "", "end_day": str(w.end_day) if w else "",
            "prerequisite": line.prerequisite_metric or "",
            "exclusivity": line.exclusivity_group or "",
            "max_claims": str(line.max_claims_per_participant),
            "max_count": show_number(line.max_count, lang),
            "max_amount": money(line.max_amount),
            "threshold": show_number(line.threshold, lang),
            "target": show_number(line.target, lang),
            "baseline_kind": b.kind if b else "",
            "baseline_rate": show_percent(b.rate_bp, lang) if b else "",
            "baseline_source": b.source if b else "",
            "baseline_n": show_number(b.n, lang) if b else "",
            "horizon": show_number(line.horizon_days, lang), "cohort": line.cohort or "",
            "evaluation_on": line.evaluation_on.isoformat() if line.evaluation_on else "",
            "cohort_threshold": show_percent(line.cohort_threshold_bp, lang)})
    return d


# The most the terms could cost -------------------------------------------------------------


@dataclass
class LineLiability:
    code: str
    price: int | None
    maximum: int | None  # max_amount, else max_count × price; None: only the cap limits it
    target: int | None
    target_cost: int | None


@dataclass
class Liability:
    currency: str
    cap: int | None
    lines: list[LineLiability]
    lines_maximum: int  # the sum of the lines' maxima, where they have one
    unlimited: int  # lines with no maximum of their own
    targets_cost: int  # Σ target × price over the lines with a target
    maximum: int | None  # the most the contract can pay: the cap, or less when every
    #                      line is limited and the limits sum to less

    @property
    def targets_share(self) -> float | None:
        return self.targets_cost / self.cap if self.cap else None


def liability(d: Designer, lang: str, currency: str, t: Translate) -> Liability:
    """The contract's maximum liability from what is typed so far (what cannot be read yet
    counts as not typed): the cap, the lines' own limits, and what paying every target
    would cost."""
    r = Reader(lang, currency, t)

    def amount(text: str) -> int | None:
        return (r.money(text, "") or {}).get("amount")

    def count(text: str) -> int | None:
        return r.whole(text, "")

    lines = []
    for row in d.lines:
        price, cap_line = amount(row["price"]), amount(row["max_amount"])
        max_count, target = count(row["max_count"]), count(row["target"])
        maximum = cap_line if cap_line is not None else (
            max_count * price if max_count is not None and price is not None else None)
        lines.append(LineLiability(
            code=row["code"] or row["metric"], price=price, maximum=maximum, target=target,
            target_cost=target * price if target is not None and price is not None else None))
    cap = amount(d.fields["cap"])
    lines_maximum = sum(x.maximum for x in lines if x.maximum is not None)
    unlimited = sum(1 for x in lines if x.maximum is None)
    maximum = cap
    if lines and not unlimited:
        maximum = lines_maximum if cap is None else min(cap, lines_maximum)
    return Liability(currency=currency, cap=cap, lines=lines, lines_maximum=lines_maximum,
                     unlimited=unlimited,
                     targets_cost=sum(x.target_cost for x in lines if x.target_cost),
                     maximum=maximum)


# Where a problem is shown ------------------------------------------------------------------


def anchor(key: str) -> str:
    """The HTML id of the place a problem's field is shown (terms.rate_card[0].price →
    f-terms-rate_card-0-price)."""
    return "f-" + re.sub(r"[^A-Za-z0-9_]+", "-", key).strip("-")


def place(problem_field: str, keys: Iterable[str]) -> str | None:
    """The longest of `keys` (the fields the form shows problems at) that `problem_field`
    is or lies within; None when the form has no place for it."""
    best = None
    for key in keys:
        if problem_field == key or problem_field.startswith((key + ".", key + "[")):
            if best is None or len(key) > len(best):
                best = key
    return best


def parse_day(value: str | None, name: str) -> dt.date | None:
    """A date typed or picked in a form (YYYY-MM-DD), None when left empty; a 422 with the
    problem beside the field `name` when it is not a date."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} is not a date", code="invalid_field", problems=[Problem(
            code="invalid_field", field=name,
            message=i18n._("Write a date as YYYY-MM-DD, e.g. 2025-09-01."))]) from None
