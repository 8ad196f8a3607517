"""The queries that feed the effect figures: plain SQL that counts in the database and hands
pandas a frame of counts, never a row per participant.

`counts` is the one query behind every rate: per contract, rate card line and each
participant attribute (age band, area, cohort, enrolment quarter, enrolling provider) it
counts participants enrolled, observed (their line's horizon has passed) and achieved (an
observed participant with a counted claim for the line), with the money accrued and paid
on those claims, the participants paid for, and what was paid for observed participants.
pandas then sums this fine grain into the total and each breakdown.

A claim counts towards achievement while it stands: accepted, sampled, verified, approved
or paid; a disputed or reversed claim does not.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import pandas as pd
from piccolo.engine.sqlite import SQLiteEngine

from contracts.schemas import ContractTerms, RateCardLine
from contracts.service import decode_terms
from contracts.tables import Contract, ContractParty, ContractVersion, Metric

COUNTED = ("accepted", "sampled", "verified", "approved", "paid")
DIMENSIONS = ("age_band", "area", "cohort", "quarter", "provider")


@dataclass(frozen=True)
class ContractInfo:
    """What the effect figures need to know of a contract besides its counts."""

    id: UUID
    reference: str
    title: str
    provider_id: UUID
    provider_name: str
    currency: str
    status: str
    terms: ContractTerms


def _sqlite() -> bool:
    return isinstance(Contract._meta.db, SQLiteEngine)


def _ids(values: Iterable) -> object:
    """A list of values as one parameter: a JSON text on SQLite, an array on PostgreSQL."""
    values = list(values)
    return json.dumps([str(v) for v in values]) if _sqlite() else values


def _in(column: str, kind: str = "uuid") -> str:
    if _sqlite():
        return f"{column} IN (SELECT value FROM json_each({{}}))"
    return f"{column} = ANY({{}}::{kind}[])"


async def contracts(ids: Sequence[UUID] | None = None, *,
                    metric_codes: Sequence[str] | None = None,
                    include_drafts: bool = False) -> list[ContractInfo]:
    """Contracts (all, or `ids`) that are not drafts (unless asked), with their current
    terms; given `metric_codes`, only those whose rate card pays for one of them."""
    where = ["1 = 1" if include_drafts else "c.status <> 'draft'"]
    args: list = []
    if ids is not None:
        where.append(_in("c.id"))
        args.append(_ids(ids))
    sql = ("SELECT c.id, c.reference, c.title, c.provider, o.name AS provider_name, "
           "c.currency, c.status, v.terms FROM contract c "
           "JOIN contract_version v ON v.contract = c.id AND v.version = c.version "
           "JOIN organisation o ON o.id = c.provider WHERE " + " AND ".join(where)
           + " ORDER BY c.reference")
    rows = await Contract.raw(sql, *args)
    out = []
    wanted = set(metric_codes) if metric_codes is not None else None
    for r in rows:
        terms = decode_terms(r["terms"])
        if wanted is not None and not any(line.metric_code in wanted
                                          for line in terms.rate_card):
            continue
        out.append(ContractInfo(id=_uuid(r["id"]), reference=r["reference"], title=r["title"],
                                provider_id=_uuid(r["provider"]),
                                provider_name=r["provider_name"], currency=r["currency"],
                                status=r["status"], terms=terms))
    return out


def _uuid(value) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def horizon(line: RateCardLine) -> int | None:
    """Days after enrolment after which a participant counts as observed for `line`: its
    horizon, else the end of its window when the window counts from enrolment; None when
    neither is known (then every participant enrolled counts as observed, and the rate is a
    lower bound until the claims deadline)."""
    if line.horizon_days is not None:
        return line.horizon_days
    if line.window is not None and line.window.anchor == "enrolment":
        return line.window.end_day
    return None


def _line_rows(infos: Sequence[ContractInfo], as_of: dt.date,
               metric_codes: set[str] | None) -> list[dict]:
    rows = []
    for info in infos:
        outcome_line = {line.metric_code: line.code for line in info.terms.rate_card
                        if line.kind == "outcome"}
        for line in info.terms.rate_card:
            if metric_codes is not None and line.metric_code not in metric_codes:
                continue
            days = horizon(line)
            cutoff = as_of - dt.timedelta(days=days) if days is not None else as_of
            # A cohort line's rate is the achievement of its metric on an outcome line of
            # the same contract; the claims a cohort evaluation makes are its payments.
            match = line.code if line.kind == "outcome" else outcome_line.get(line.metric_code)
            rows.append({"contract": str(info.id), "line": line.code,
                         "match": match or "", "cohort": line.cohort or "",
                         "cutoff": cutoff.isoformat()})
    return rows


def _lines_source(rows: list[dict]) -> tuple[str, list]:
    if _sqlite():
        sql = ("SELECT json_extract(value, '$.contract') AS contract, "
               "json_extract(value, '$.line') AS line, json_extract(value, '$.match') AS match,"
               " json_extract(value, '$.cohort') AS cohort, "
               "json_extract(value, '$.cutoff') AS cutoff FROM json_each({})")
        return sql, [json.dumps(rows)]
    sql = ("SELECT * FROM unnest({}::uuid[], {}::text[], {}::text[], {}::text[], {}::date[]) "
           "AS l(contract, line, match, cohort, cutoff)")
    return sql, [[UUID(r["contract"]) for r in rows], [r["line"] for r in rows],
                 [r["match"] for r in rows], [r["cohort"] for r in rows],
                 [dt.date.fromisoformat(r["cutoff"]) for r in rows]]


def _quarter(column: str) -> str:
    if _sqlite():
        return (f"(strftime('%Y', {column}) || 'Q' || "
                f"((CAST(strftime('%m', {column}) AS INTEGER) + 2) / 3))")
    return f"to_char({column}, 'YYYY\"Q\"Q')"


COUNT_COLUMNS = ("contract", "line", "age_band", "area", "cohort", "quarter", "provider",
                 "enrolled", "observed", "achieved", "achieved_any", "accrued", "paid",
                 "paid_people", "paid_observed")


async def counts(infos: Sequence[ContractInfo], as_of: dt.date,
                 metric_codes: set[str] | None = None) -> pd.DataFrame:
    """Counts at the finest grain: one row per contract, line and combination of
    participant attributes that occurs (see the module's docstring)."""
    lines = _line_rows(infos, as_of, metric_codes)
    if not lines:
        return pd.DataFrame(columns=list(COUNT_COLUMNS))
    source, args = _lines_source(lines)
    counted = ", ".join(f"'{s}'" for s in COUNTED)
    contract_ids = sorted({r["contract"] for r in lines})
    sql = (
        f"WITH l AS ({source}), "
        "a AS (SELECT participant, line_code, "
        "SUM(CASE WHEN status IN ('approved', 'paid') THEN amount ELSE 0 END) AS accrued, "
        "SUM(CASE WHEN status = 'paid' THEN amount ELSE 0 END) AS paid "
        f"FROM claim WHERE status IN ({counted}) AND {_in('contract')} "
        "GROUP BY participant, line_code) "
        "SELECT l.contract, l.line, p.age_band, p.area, p.cohort, "
        f"{_quarter('p.enrolled_on')} AS quarter, p.organisation AS provider, "
        "COUNT(*) AS enrolled, "
        "SUM(CASE WHEN p.enrolled_on <= l.cutoff THEN 1 ELSE 0 END) AS observed, "
        "SUM(CASE WHEN p.enrolled_on <= l.cutoff AND h.participant IS NOT NULL "
        "THEN 1 ELSE 0 END) AS achieved, "
        "SUM(CASE WHEN h.participant IS NOT NULL THEN 1 ELSE 0 END) AS achieved_any, "
        "COALESCE(SUM(m.accrued), 0) AS accrued, COALESCE(SUM(m.paid), 0) AS paid, "
        "SUM(CASE WHEN m.paid > 0 THEN 1 ELSE 0 END) AS paid_people, "
        "COALESCE(SUM(CASE WHEN p.enrolled_on <= l.cutoff THEN m.paid ELSE 0 END), 0) "
        "AS paid_observed "
        "FROM l JOIN participant p ON p.contract = l.contract "
        "AND (l.cohort = '' OR p.cohort = l.cohort) "
        "LEFT JOIN a h ON h.participant = p.id AND h.line_code = l.match "
        "LEFT JOIN a m ON m.participant = p.id AND m.line_code = l.line "
        "GROUP BY l.contract, l.line, p.age_band, p.area, p.cohort, "
        f"{_quarter('p.enrolled_on')}, p.organisation"
    )
    rows = await Contract.raw(sql, *args, _ids(contract_ids))
    frame = pd.DataFrame(rows, columns=list(COUNT_COLUMNS))
    for name in ("contract", "provider"):
        frame[name] = frame[name].map(lambda v: "" if v is None else str(v))
    for name in ("age_band", "area", "cohort", "quarter"):
        frame[name] = frame[name].fillna("")
    for name in COUNT_COLUMNS[7:]:
        frame[name] = pd.to_numeric(frame[name]).astype("int64")
    return frame


async def score_values(infos: Sequence[ContractInfo]) -> pd.DataFrame:
    """The measured change on each standing claim of a score line: contract, line, value."""
    wanted = [(str(i.id), line.code) for i in infos for line in i.terms.rate_card
              if line.threshold is not None and line.kind == "outcome"]
    if not wanted:
        return pd.DataFrame(columns=["contract", "line", "value"])
    counted = ", ".join(f"'{s}'" for s in COUNTED)
    sql = (f"SELECT contract, line_code AS line, value FROM claim WHERE status IN ({counted}) "
           f"AND value IS NOT NULL AND {_in('contract')}")
    rows = await Contract.raw(sql, _ids({c for c, _ in wanted}))
    frame = pd.DataFrame(rows, columns=["contract", "line", "value"])
    frame["contract"] = frame["contract"].map(str)
    keep = frame.set_index(["contract", "line"]).index.isin(wanted)
    frame = frame[keep].copy()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    return frame


async def open_windows(infos: Sequence[ContractInfo], today: dt.date) -> pd.DataFrame:
    """For the liability forecast: per contract, outcome line and day of enrolment, the
    participants who have not (yet) achieved the line: contract, line, enrolled_on, open."""
    lines = _line_rows(infos, today, None)
    lines = [r for r in lines if r["match"] == r["line"]]
    if not lines:
        return pd.DataFrame(columns=["contract", "line", "enrolled_on", "open"])
    source, args = _lines_source(lines)
    counted = ", ".join(f"'{s}'" for s in COUNTED)
    contract_ids = sorted({r["contract"] for r in lines})
    sql = (
        f"WITH l AS ({source}), "
        "a AS (SELECT DISTINCT participant, line_code FROM claim "
        f"WHERE status IN ({counted}) AND {_in('contract')}) "
        "SELECT l.contract, l.line, p.enrolled_on, COUNT(*) AS open "
        "FROM l JOIN participant p ON p.contract = l.contract "
        "LEFT JOIN a ON a.participant = p.id AND a.line_code = l.line "
        "WHERE a.participant IS NULL GROUP BY l.contract, l.line, p.enrolled_on"
    )
    rows = await Contract.raw(sql, *args, _ids(contract_ids))
    frame = pd.DataFrame(rows, columns=["contract", "line", "enrolled_on", "open"])
    frame["contract"] = frame["contract"].map(str)
    frame["enrolled_on"] = pd.to_datetime(frame["enrolled_on"]).dt.date
    frame["open"] = frame["open"].astype("int64")
    return frame


async def metric_codes_for(subject: str) -> tuple[str, list[str]]:
    """('metric', [code]) when `subject` is a metric code, ('category', codes) when it is a
    category of the metric library; ('', []) when it is neither."""
    rows = await Metric.select(Metric.code, Metric.category).where(
        (Metric.code == subject) | (Metric.category == subject))
    if any(r["code"] == subject for r in rows):
        return "metric", [subject]
    codes = sorted(r["code"] for r in rows if r["category"] == subject)
    return ("category", codes) if codes else ("", [])


async def organisation_names(ids: Iterable[UUID]) -> dict[str, str]:
    ids = [str(i) for i in ids if i]
    if not ids:
        return {}
    rows = await Contract.raw(f"SELECT id, name FROM organisation WHERE {_in('id')}",
                              _ids(ids))
    return {str(r["id"]): r["name"] for r in rows}


async def party_contracts(organisation_id: UUID) -> dict[str, set[str]]:
    """Contract id → roles the organisation holds on it."""
    rows = await ContractParty.select(ContractParty.contract, ContractParty.role).where(
        ContractParty.organisation == organisation_id)
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(str(r["contract"]), set()).add(r["role"])
    return out


async def latest_version_terms(contract_id: UUID) -> ContractTerms:
    row = await ContractVersion.raw(
        "SELECT v.terms FROM contract_version v JOIN contract c ON c.id = v.contract "
        "AND c.version = v.version WHERE c.id = {}", contract_id)
    return decode_terms(row[0]["terms"])
