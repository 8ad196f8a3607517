"""Effect figures for a whole portfolio on PostgreSQL: 200 active contracts with 1,000,000
participants and their claims, against the floor measured in the same run.

The contracts (1-3 rate card lines each, with targets, baselines and horizons, over a handful
of metrics and categories) are made and activated through the services; participants and
claims are written with asyncpg COPY (about 30 % of participants achieve a contract's first
line; statuses mostly approved or paid), as intake would have left them.

- **floor**: the counts alone, participants enrolled and participants with a standing claim
  per contract and line, in one statement over the raw tables (two forms; the faster is the
  floor).
- **portfolio**: `effect.service.portfolio_effect` for an administrator: every contract's
  figures, from the queries to the `ContractEffect` structs.
- **comparison**: `effect.service.comparison` of one category across its contracts, against
  the floor for the same lines.
Each is timed in rounds that run the floor and the figures one after the other (the machine
is shared; its load moves by the minute): medians of the rounds, and the median of the
rounds' ratios.

- **memory**: a fresh process that imports, binds and computes the portfolio once: its peak
  RSS (VmHWM), its RSS before computing, and in a second process the peak of Python's
  allocations (tracemalloc).

    .venv/bin/python -m benchmarks.effect [--contracts 200] [--participants 1000000]
        [--runs 5] [--keep] [--reuse] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
import uuid

import asyncpg
import msgspec
import numpy as np

from benchmarks.common import db_url, drop, machine, recreate

NAME = "virker_bench_effect"
TODAY = dt.date(2026, 11, 26)
START = dt.date(2024, 1, 1)
COUNTED = ("accepted", "sampled", "verified", "approved", "paid")
STATUSES = np.array(["paid", "approved", "accepted", "verified", "disputed", "reversed"])
STATUS_SHARE = np.array([0.55, 0.35, 0.05, 0.02, 0.02, 0.01])
AGES = np.array(["18-24", "25-29", "30-39", "40-49", "50-59", "60-66"])
CATEGORY = "employment.entry"

METRICS = [  # code, kind, category
    ("ips_employment", "event", "employment.entry"),
    ("employment", "event", "employment.entry"),
    ("education_entry", "event", "education.entry"),
    ("housing_entry", "event", "housing.entry"),
    ("housing_sustained_6m", "duration", "housing.sustained"),
    ("wemwbs_increase", "score_change", "wellbeing.score"),
]
# Rate cards by kind of contract: (line code, metric, price in kroner, conditional rate).
CARDS = [
    [("job", "ips_employment", 30_000, 1.0), ("wellbeing", "wemwbs_increase", 5_000, 0.5)],
    [("job", "employment", 35_000, 1.0), ("education", "education_entry", 20_000, 0.4)],
    [("entry", "housing_entry", 15_000, 1.0),
     ("sustained-6m", "housing_sustained_6m", 25_000, 0.75)],
    [("job", "ips_employment", 30_000, 1.0), ("education", "education_entry", 20_000, 0.3),
     ("wellbeing", "wemwbs_increase", 5_000, 0.4)],
    [("education", "education_entry", 20_000, 1.0)],
]


# Building the portfolio ---------------------------------------------------------------------


async def build(url: str, n_contracts: int, n_participants: int) -> dict:
    """Migrate, make the organisations, metrics and contracts through the services, then
    COPY the participants and claims. Returns what the measurements need."""
    from contracts import directory, library, service
    from contracts.identity import Principal
    from contracts.schemas import ContractIn, MetricIn, OrganisationIn
    from core.database import bind, make_engine, migrate
    from ledger import commitments

    bind(make_engine(url))
    await migrate()
    operator = await directory.create_organisation(None, OrganisationIn(
        name="Virker drift", kind="operator", identifier="DK-CVR-90000001"))
    municipalities = [await directory.create_organisation(None, OrganisationIn(
        name=f"Kommune {i}", kind="municipality", identifier=f"DK-CVR-9100{i:04d}"))
        for i in range(20)]
    providers = [await directory.create_organisation(None, OrganisationIn(
        name=f"Udbyder {i}", kind="ngo", identifier=f"DK-CVR-9200{i:04d}"))
        for i in range(50)]
    for code, kind, category in METRICS:
        await library.create_metric(None, msgspec.convert(dict(
            code=code, name=code, definition="d", unit="participant", kind=kind,
            evidence_required="e", verification_source="admin_data", category=category,
            direction="increase", duration_days=182 if kind == "duration" else None),
            MetricIn))
    rng = np.random.default_rng(20261126)
    contracts = []
    for k in range(n_contracts):
        card = CARDS[k % len(CARDS)]
        boss, ngo = municipalities[k % 20], providers[k % 50]
        lines = []
        for code, metric, price, _ in card:
            line = dict(code=code, metric_code=metric,
                        price={"amount": price * 100, "currency": "DKK"},
                        window={"start_day": 0, "end_day": 540}, horizon_days=365,
                        target=1_000, baseline=dict(
                            kind="comparison_group" if k % 2 else "historical",
                            rate_bp=2000, n=400 if k % 2 else None,
                            source="the municipality's own figures, 2021-2023"))
            if metric == "wemwbs_increase":
                line["threshold"] = "3"
            if metric == "housing_sustained_6m":
                line.update(prerequisite_metric="housing_entry",
                            window={"anchor": "prerequisite", "start_day": 182,
                                    "end_day": 242}, horizon_days=540)
            lines.append(line)
        body = dict(reference=f"BENCH-{k:04d}", title=f"Contract {k}",
                    provider_id=str(ngo.id), currency="DKK",
                    terms=dict(service_period={"start": "2024-01-01", "end": "2027-12-31"},
                               enrolment_period={"start": "2024-01-01", "end": "2026-12-31"},
                               claims_deadline="2028-06-30",
                               cap={"amount": 10**13, "currency": "DKK"},
                               commissioners=[{"organisation_id": str(boss.id),
                                               "share_bp": 10_000}],
                               rate_card=lines))
        created = await service.create_contract(None, msgspec.convert(body, ContractIn))
        await commitments.activate(Principal(organisation_id=boss.id, role="commissioner"),
                                   created.id, "benchmark")
        # Each contract's true rate for its first line, so that contracts differ.
        contracts.append((created.id, ngo.id, card, float(rng.beta(12, 28))))
    await _copy_people(url, contracts, n_participants, rng)
    return {"operator": operator.id}


async def _copy_people(url: str, contracts: list, n_participants: int,
                       rng: np.random.Generator) -> None:
    per = n_participants // len(contracts)
    at = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(url)
    try:
        for k, (cid, ngo, card, rate) in enumerate(contracts):
            days = rng.integers(0, 731, per)
            enrolled = (np.datetime64(START) + days).astype("datetime64[D]").astype(object)
            ids = [uuid.uuid4() for _ in range(per)]
            ages = rng.choice(AGES, per, p=[0.2, 0.2, 0.25, 0.15, 0.12, 0.08])
            areas = rng.integers(1, 5, per)
            people = [(pid, cid, f"P{k}-{i}", on, str(age), f"area-{a}", str(on.year), at, ngo)
                      for i, (pid, on, age, a) in enumerate(zip(ids, enrolled, ages, areas,
                                                                  strict=True))]
            claims = []
            first, first_after = rng.random(per) < rate, rng.integers(30, 361, per)
            for j, (code, metric, price, share) in enumerate(card):
                if j == 0:
                    hit, after = first, first_after
                elif metric == "housing_sustained_6m":  # six months after the entry
                    hit = first & (rng.random(per) < share)
                    after = first_after + rng.integers(182, 231, per)
                else:
                    hit, after = rng.random(per) < rate * share, rng.integers(30, 361, per)
                status = rng.choice(STATUSES, per, p=STATUS_SHARE)
                values = rng.integers(3, 13, per)
                for i in np.flatnonzero(hit):
                    on = enrolled[i] + dt.timedelta(days=int(after[i]))
                    if on > TODAY:
                        continue
                    claims.append((uuid.uuid4(), cid, ids[i], None, f"{code}-{i}", code,
                                   metric, on,
                                   str(values[i]) if metric == "wemwbs_increase" else None,
                                   "e", price * 100, "DKK", str(status[i]), at, None))
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "participant", records=people,
                    columns=["id", "contract", "pseudonym", "enrolled_on", "age_band", "area",
                             "cohort", "created_at", "organisation"])
                await conn.copy_records_to_table(
                    "claim", records=claims,
                    columns=["id", "contract", "participant", "batch", "client_ref",
                             "line_code", "metric_code", "achieved_on", "value",
                             "evidence_ref", "amount", "currency", "status", "submitted_at",
                             "sample"])
        # A live database has been vacuumed and analysed by autovacuum.
        await conn.execute("VACUUM ANALYZE participant")
        await conn.execute("VACUUM ANALYZE claim")
        await pin_plans(conn)
    finally:
        await conn.close()


async def pin_plans(conn) -> None:
    """Every connection plans each execution with its values. A pooled connection switches
    a prepared statement to a generic plan after five executions when it looks no dearer;
    for the counts query that plan runs in about two thirds of the time, so a figure would
    depend on how often its connection had run it. The generic plans are measured apart."""
    await conn.execute(f'ALTER DATABASE "{NAME}" SET plan_cache_mode = force_custom_plan')


# The floor ----------------------------------------------------------------------------------

FLOOR_JOIN = """
SELECT l.contract, l.line, COUNT(*) AS enrolled, COUNT(s.participant) AS achieved
FROM unnest($1::uuid[], $2::text[]) AS l(contract, line)
JOIN participant p ON p.contract = l.contract
LEFT JOIN (SELECT DISTINCT participant, line_code FROM claim
           WHERE status IN ('accepted', 'sampled', 'verified', 'approved', 'paid')) s
  ON s.participant = p.id AND s.line_code = l.line
GROUP BY l.contract, l.line
"""

FLOOR_SPLIT = """
SELECT contract, NULL AS line, COUNT(*) AS n FROM participant
WHERE contract = ANY($1::uuid[]) GROUP BY contract
UNION ALL
SELECT contract, line_code, COUNT(DISTINCT participant) FROM claim
WHERE contract = ANY($1::uuid[]) AND line_code = ANY($2::text[])
  AND status IN ('accepted', 'sampled', 'verified', 'approved', 'paid')
GROUP BY contract, line_code
"""


# Variants of effect.queries.counts, run on the same arguments (proposals, not in use) ------

# The participants and their claims are first counted per cell (contract, the five
# dimensions, and a bucket of the enrolment date between the lines' distinct cutoffs), and
# only the cells are joined to the rate card lines: 50,000 + 90,000 rows instead of
# 2,000,000 participant-line rows. `b <= k` says that a cell's participants are observed for
# a line whose cutoff is the k-th smallest plus one, exactly as `enrolled_on <= cutoff`.
CELLS_HEAD = """
WITH l AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::date[])
           AS l(contract, line, match, cohort, cutoff)),
cut AS (SELECT array_agg(DISTINCT cutoff + 1 ORDER BY cutoff + 1) AS t FROM l),
lk AS (SELECT l.*, (SELECT count(DISTINCT x.cutoff) FROM l x WHERE x.cutoff < l.cutoff) AS k
       FROM l),
pc AS (SELECT p.contract, p.age_band, p.area, p.cohort, p.organisation,
              date_trunc('quarter', p.enrolled_on) AS q, width_bucket(p.enrolled_on, cut.t) AS b,
              COUNT(*) AS n
       FROM participant p CROSS JOIN cut WHERE p.contract = ANY($6::uuid[])
       GROUP BY 1, 2, 3, 4, 5, 6, 7),
a AS (SELECT participant, line_code,
             SUM(CASE WHEN status IN ('approved', 'paid') THEN amount ELSE 0 END) AS accrued,
             SUM(CASE WHEN status = 'paid' THEN amount ELSE 0 END) AS paid
      FROM claim WHERE status IN ('accepted', 'sampled', 'verified', 'approved', 'paid')
        AND contract = ANY($6::uuid[]) GROUP BY participant, line_code),
hc AS (SELECT p.contract, p.age_band, p.area, p.cohort, p.organisation,
              date_trunc('quarter', p.enrolled_on) AS q, width_bucket(p.enrolled_on, cut.t) AS b,
              a.line_code, COUNT(*) AS n, SUM(a.accrued) AS accrued, SUM(a.paid) AS paid,
              COUNT(*) FILTER (WHERE a.paid > 0) AS paid_people
       FROM a JOIN participant p ON p.id = a.participant CROSS JOIN cut
       GROUP BY 1, 2, 3, 4, 5, 6, 7, 8)
"""
CELLS_SUMS = """
SUM(enrolled) AS enrolled, SUM(observed) AS observed, SUM(achieved) AS achieved,
SUM(achieved_any) AS achieved_any, SUM(accrued) AS accrued, SUM(paid) AS paid,
SUM(paid_people) AS paid_people, SUM(paid_observed) AS paid_observed
FROM (
  SELECT l.contract, l.line, c.age_band, c.area, c.cohort, c.q, c.organisation,
         c.n AS enrolled, CASE WHEN c.b <= l.k THEN c.n ELSE 0 END AS observed,
         0 AS achieved, 0 AS achieved_any, 0 AS accrued, 0 AS paid, 0 AS paid_people,
         0 AS paid_observed
  FROM lk l JOIN pc c ON c.contract = l.contract AND (l.cohort = '' OR c.cohort = l.cohort)
  UNION ALL
  SELECT l.contract, l.line, h.age_band, h.area, h.cohort, h.q, h.organisation, 0, 0,
         CASE WHEN h.b <= l.k THEN h.n ELSE 0 END, h.n, 0, 0, 0, 0
  FROM lk l JOIN hc h ON h.contract = l.contract AND h.line_code = l.match
   AND (l.cohort = '' OR h.cohort = l.cohort)
  UNION ALL
  SELECT l.contract, l.line, m.age_band, m.area, m.cohort, m.q, m.organisation, 0, 0, 0, 0,
         m.accrued, m.paid, m.paid_people, CASE WHEN m.b <= l.k THEN m.paid ELSE 0 END
  FROM lk l JOIN hc m ON m.contract = l.contract AND m.line_code = l.line
   AND (l.cohort = '' OR m.cohort = l.cohort)
) u
"""
# The same fine grain as effect.queries.counts, row for row.
CELLS = (CELLS_HEAD + "SELECT contract, line, age_band, area, cohort, "
         "to_char(q, 'YYYY\"Q\"Q') AS quarter, organisation AS provider, " + CELLS_SUMS
         + "GROUP BY contract, line, age_band, area, cohort, q, organisation")
# What the service makes of the grain instead: each line's total and one row per value of
# each dimension (GROUPING SETS), about 9,000 rows instead of 77,000.
GROUPED = (CELLS_HEAD + """SELECT contract, line,
  CASE WHEN GROUPING(age_band) = 0 THEN 'age_band' WHEN GROUPING(area) = 0 THEN 'area'
       WHEN GROUPING(cohort) = 0 THEN 'cohort' WHEN GROUPING(q) = 0 THEN 'quarter'
       WHEN GROUPING(organisation) = 0 THEN 'provider' ELSE '' END AS dimension,
  COALESCE(age_band, area, cohort, to_char(q, 'YYYY"Q"Q'), organisation::text) AS value,
""" + CELLS_SUMS + """GROUP BY GROUPING SETS ((contract, line), (contract, line, age_band),
  (contract, line, area), (contract, line, cohort), (contract, line, q),
  (contract, line, organisation))""")
# How PostgreSQL is asked to run the counts (SET LOCAL, inside the query's transaction):
# enough memory that its sorts and hashes of a million rows stay out of temporary files,
# and no JIT, whose compilation (0.1-0.9 s) the misestimated row counts trigger.
SETTINGS = ("SET LOCAL work_mem = '64MB'", "SET LOCAL jit = off")


async def variant(conn, sql: str, args: list, settings: tuple[str, ...] = ()) -> list:
    async with conn.transaction():
        for setting in settings:
            await conn.execute(setting)
        return await conn.fetch(sql, *args)


def _rows(records) -> list[tuple]:
    return sorted(tuple("" if v is None else str(v) for v in r) for r in records)


async def lines_of(conn, category: str | None = None) -> tuple[list, list]:
    """(contract ids, line codes) of every rate card line, or of those in `category`."""
    from contracts.service import decode_terms

    cats = {code: cat for code, _, cat in METRICS}
    contracts, lines = [], []
    for r in await conn.fetch("SELECT c.id, v.terms FROM contract c JOIN contract_version v "
                              "ON v.contract = c.id AND v.version = c.version "
                              "WHERE c.status = 'active'"):
        for line in decode_terms(r["terms"]).rate_card:
            if category is None or cats[line.metric_code] == category:
                contracts.append(r["id"])
                lines.append(line.code)
    return contracts, lines


async def rounds(steps: dict, runs: int) -> tuple[dict[str, list[float]], dict]:
    """Seconds of each step in each of `runs` rounds (after one untimed round), and each
    step's last result. A round runs every step once, so steps compared with each other see
    the same load: the machine is shared, and its load moves by the minute."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    last: dict = {}
    for i in range(runs + 1):
        for name, fn in steps.items():
            started = time.perf_counter()
            last[name] = await fn()
            if i:
                times[name].append(time.perf_counter() - started)
    return times, last


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(numerator: list[float], *denominators: list[float]) -> float:
    """The median of the rounds' ratios, the denominator being the least of its steps."""
    return median([n / min(d) for n, *d in zip(numerator, *denominators, strict=True)])


# Memory, in a fresh process -----------------------------------------------------------------

WORKER = r"""
import asyncio, datetime as dt, json, sys, time, tracemalloc, uuid
def status(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))
from contracts.identity import Principal
from core.database import bind, make_engine
from effect import service
url, operator, traced = sys.argv[1], uuid.UUID(sys.argv[2]), sys.argv[3] == "1"
async def main():
    engine = make_engine(url)
    bind(engine)
    await engine.start_connection_pool(min_size=1, max_size=2)
    admin = Principal(organisation_id=operator, role="admin", label="bench")
    before = status("VmRSS")
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    out = await service.portfolio_effect(admin, as_of=dt.date(2026, 11, 26))
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    await engine.close_connection_pool()
    return before, took, peak, len(out)
before, took, peak, n = asyncio.run(main())
print(json.dumps({"rss_before_mb": before / 1024, "hwm_mb": status("VmHWM") / 1024,
                  "traced_peak_mb": peak / 2**20, "seconds": took, "contracts": n}))
"""


def memory(url: str, operator: uuid.UUID, traced: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, url, str(operator), str(int(traced))],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# Measuring ----------------------------------------------------------------------------------


async def measure(url: str, operator: uuid.UUID, runs: int, explain: bool) -> dict:
    from contracts.identity import Principal
    from core.database import bind, make_engine
    from effect import queries, service

    engine = make_engine(url)
    bind(engine)
    await engine.start_connection_pool(min_size=1, max_size=4)
    conn = await asyncpg.connect(url)
    try:
        admin = Principal(organisation_id=operator, role="admin", label="bench")
        every, category = await lines_of(conn), await lines_of(conn, CATEGORY)
        out: dict = {"lines": len(every[0]), "category_lines": len(category[0]),
                     "participants": await conn.fetchval("SELECT count(*) FROM participant"),
                     "claims": await conn.fetchval("SELECT count(*) FROM claim")}
        infos = await queries.contracts(None)
        sql, args = await _captured_counts_sql(infos)
        sql = _numbered(sql)

        # The portfolio against the floor, and its steps one by one, round by round.
        t, last = await rounds({
            "floor_split": lambda: conn.fetch(FLOOR_SPLIT, *every),
            "floor_join": lambda: conn.fetch(FLOOR_JOIN, *every),
            "portfolio": lambda: service.portfolio_effect(admin, as_of=TODAY),
            "contracts": lambda: queries.contracts(None),
            "counts": lambda: queries.counts(infos, TODAY),
            "counts_sql": lambda: variant(conn, sql, args),
            "scores": lambda: queries.score_values(infos),
        }, runs)
        out["t"] = {name: median(values) for name, values in t.items()}
        out["ratio"] = ratio(t["portfolio"], t["floor_split"], t["floor_join"])
        out["contracts"], grain = len(last["portfolio"]), last["counts"]
        out["grain_rows"] = len(grain)
        lines = service._lines_frame(infos)
        table_t, _ = await rounds({"table": _async(lambda: service.table(
            grain, lines, queries.DIMENSIONS))}, runs)
        out["t"]["table"] = median(table_t["table"])

        # The comparison of one category against the floor for its lines.
        t, last = await rounds({
            "floor_split": lambda: conn.fetch(FLOOR_SPLIT, *category),
            "floor_join": lambda: conn.fetch(FLOOR_JOIN, *category),
            "comparison": lambda: service.comparison(admin, CATEGORY, as_of=TODAY),
        }, runs)
        out["comparison"] = {name: median(values) for name, values in t.items()}
        out["comparison_ratio"] = ratio(t["comparison"], t["floor_split"], t["floor_join"])
        out["compared_units"] = len(last["comparison"].units)

        # The proposals, on the same arguments, with custom plans and with generic ones.
        original = last_rows = await variant(conn, sql, args)
        for mode in ("custom", "generic"):
            c = await asyncpg.connect(url, server_settings={
                "plan_cache_mode": f"force_{mode}_plan"})
            try:
                t, last = await rounds({
                    name: (lambda c=c, text=text, settings=settings:
                           variant(c, text, args, settings))
                    for name, text, settings in (("sql", sql, ()),
                                                 ("sql_settings", sql, SETTINGS),
                                                 ("sql_cells", CELLS, SETTINGS),
                                                 ("sql_grouped", GROUPED, SETTINGS))}, runs)
            finally:
                await c.close()
            for name in t:
                out[f"{name}_{mode}"] = median(t[name])
                out[f"{name}_{mode}_ratio"] = ratio(t[name], t["sql"])
                if name != "sql_grouped":
                    out[f"{name}_{mode}_same"] = _rows(last[name]) == _rows(original)
            last_rows = last["sql_grouped"]
        out["sql_grouped_rows"] = len(last_rows)
        totals = sorted((str(r["contract"]), r["line"], r["observed"], r["achieved"])
                        for r in last_rows if r["dimension"] == "")
        sums = grain.groupby(["contract", "line"])[["observed", "achieved"]].sum()
        out["sql_grouped_totals_same"] = totals == sorted(
            (c, li, int(o), int(a))
            for (c, li), (o, a) in zip(sums.index, sums.to_numpy(), strict=True))
        if explain:
            for name, text, settings in (("explain", sql, ()),
                                         ("explain_cells", CELLS, SETTINGS)):
                plan = await variant(conn, "EXPLAIN (ANALYZE, BUFFERS) " + text, args,
                                     settings)
                out[name] = "\n".join(r[0] for r in plan)
        return out
    finally:
        await conn.close()
        await engine.close_connection_pool()


def _async(fn):
    async def call():
        return fn()
    return call


async def _captured_counts_sql(infos) -> tuple[str, list]:
    """The SQL and arguments `effect.queries.counts` sends (captured, not rewritten)."""
    from contracts.tables import Contract
    from effect import queries

    seen: list = []
    original = Contract.raw

    def capture(sql, *args):
        seen.append((sql, list(args)))
        return original(sql, *args)

    Contract.raw = capture
    try:
        await queries.counts(infos, TODAY)
    finally:
        Contract.raw = original
    return seen[-1]


def _numbered(sql: str) -> str:
    """Piccolo's {} placeholders as asyncpg's $1, $2, …"""
    parts = sql.split("{}")
    return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="measure a database kept by an earlier --keep run")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of effect.queries.counts")
    args = parser.parse_args()

    url = db_url(NAME)
    started = time.perf_counter()
    if args.reuse:
        operator = asyncio.run(_operator(url))  # and pins the plans, as build does
    else:
        url = asyncio.run(recreate(NAME))
        operator = asyncio.run(build(url, args.contracts, args.participants))["operator"]
    load_s = time.perf_counter() - started
    load_before = _load()
    r = asyncio.run(measure(url, operator, args.runs, args.explain))
    mem = memory(url, operator, traced=False)
    traced = memory(url, operator, traced=True)
    if not args.keep:
        asyncio.run(drop(NAME))

    t, c = r["t"], r["comparison"]
    floor = min(t["floor_join"], t["floor_split"])
    print(f"machine: {machine()}; load average {load_before} before, {_load()} after")
    print(f"{r['contracts']} contracts, {r['lines']} lines, {r['participants']:,} participants,"
          f" {r['claims']:,} claims (built in {load_s:.0f} s); medians of {args.runs} rounds, "
          "ratios the median of the rounds' ratios")
    print(f"floor, counts per contract and line: one join {t['floor_join']:.2f} s, two "
          f"aggregates {t['floor_split']:.2f} s -> floor {floor:.2f} s")
    print(f"portfolio_effect (admin, every contract): {t['portfolio']:.2f} s, "
          f"ratio {r['ratio']:.1f} (target <= 2)")
    print(f"  its steps: contracts() {t['contracts']:.2f} s, counts() {t['counts']:.2f} s "
          f"({r['grain_rows']:,} rows; its SQL alone {t['counts_sql']:.2f} s), score_values() "
          f"{t['scores']:.2f} s, table() {t['table']:.2f} s")
    print(f"comparison {CATEGORY} ({r['compared_units']} units): {c['comparison']:.2f} s; "
          f"floor for its lines {min(c['floor_split'], c['floor_join']):.2f} s, ratio "
          f"{r['comparison_ratio']:.1f}")
    print("the counts SQL and its variants, custom plans / generic plans (x as it is):")
    for name, label in (("sql", "as it is"), ("sql_settings", "work_mem 64MB, jit off"),
                        ("sql_cells", "counted per cell first (and the settings)"),
                        ("sql_grouped", "per cell, GROUPING SETS (and the settings)")):
        same = (f"same rows: {r[f'{name}_custom_same']}/{r[f'{name}_generic_same']}"
                if name != "sql_grouped" else f"{r['sql_grouped_rows']:,} rows, totals the "
                f"same: {r['sql_grouped_totals_same']}")
        print(f"  {label:<44} {r[f'{name}_custom']:5.2f} s (x{r[f'{name}_custom_ratio']:.2f})"
              f" / {r[f'{name}_generic']:5.2f} s (x{r[f'{name}_generic_ratio']:.2f}) ({same})")
    print(f"memory, a fresh process computing the portfolio once ({mem['seconds']:.2f} s): "
          f"peak RSS {mem['hwm_mb']:.0f} MB (target <= 300), of which "
          f"{mem['rss_before_mb']:.0f} MB before computing (interpreter, imports, pool); "
          f"Python allocations at their peak (tracemalloc) {traced['traced_peak_mb']:.0f} MB")
    if args.explain:
        print("EXPLAIN ANALYZE, the counts SQL as it is:\n" + r["explain"])
        print("EXPLAIN ANALYZE, counted per cell first:\n" + r["explain_cells"])


def _load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


async def _operator(url: str) -> uuid.UUID:
    conn = await asyncpg.connect(url)
    try:
        await pin_plans(conn)
        return await conn.fetchval("SELECT id FROM organisation WHERE kind = 'operator'")
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
