"""Open data: importing the INDIGO dataset, and exporting OCDS for many contracts, each beside
reading and writing the same rows with pandas alone, in the same run.

1. Import (SQLite and PostgreSQL): `opendata.indigo.import_indigo` on the full dataset in
   ../shared/reference/indigo (319 projects) into an empty database, against pandas alone:
   the same nine CSVs read with `read_csv` and the same three tables' rows (projects,
   outcome metrics, pricings) written with `DataFrame.to_sql` into an SQLite file. Each is
   run once untimed (imports and one-time set-up are not counted on either side), then best
   of three runs each; then the import again, unchanged (what a nightly refresh costs).
2. Export (PostgreSQL): `--contracts` active contracts with `--claims` paid claims each
   (participants and claims COPYed in, one paid payment run per contract through the real
   posting path), every part public; `opendata.ocds` writes the release package of all of
   them, against pandas alone reading the same claims and postings with `read_sql` and
   writing the same number of records with `to_json`.

    .venv/bin/python -m benchmarks.open_data [--contracts 200] [--claims 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import ROOT, drop, machine, recreate

INDIGO = ROOT.parent / "shared" / "reference" / "indigo"
BENCH = "virker_bench_open_data"
TABLES = ("projects.csv", "projects_outcome_metrics.csv", "projects_outcome_pricings.csv")


def pandas_import(folder: Path, target: Path) -> float:
    """Read every CSV of the dataset and write the projects, metrics and prices with pandas."""
    started = time.perf_counter()
    frames = {f.name: pd.read_csv(f, dtype=str, keep_default_na=False)
              for f in sorted(folder.glob("*.csv"))}
    with sqlite3.connect(target) as conn:
        for name in TABLES:
            frames[name].to_sql(name.removesuffix(".csv"), conn, index=False,
                                if_exists="replace")
    return time.perf_counter() - started


async def virker_import(url: str) -> tuple[float, float, object]:
    from core.database import bind, make_engine, migrate
    from opendata.indigo import import_indigo

    engine = make_engine(url)
    bind(engine)
    await migrate()
    started = time.perf_counter()
    report = await import_indigo(INDIGO)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = await import_indigo(INDIGO)
    second = time.perf_counter() - started
    assert again.unchanged == report.loaded, "the second import changed something"
    return first, second, report


def import_benchmark() -> None:
    print(f"machine: {machine()}")
    if not INDIGO.is_dir():
        print(f"no INDIGO dataset at {INDIGO}: import skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        # Once each, untimed: the first run of either pays for what a process does once
        # (pandas' parser set-up, Babel's currency and country names, lazily read modules).
        pandas_import(INDIGO, Path(tmp) / "pandas-warm.sqlite")
        asyncio.run(virker_import(f"sqlite:///{tmp}/virker-warm.sqlite"))
        base = min(pandas_import(INDIGO, Path(tmp) / f"pandas{i}.sqlite") for i in range(3))
        lite = []
        for i in range(3):
            lite.append(asyncio.run(virker_import(f"sqlite:///{tmp}/virker{i}.sqlite")))
    pg = []
    for _ in range(3):
        url = asyncio.run(recreate(BENCH))
        pg.append(asyncio.run(virker_import(url)))
    asyncio.run(drop(BENCH))
    report = lite[0][2]
    print(f"INDIGO dataset: {report.projects} projects, {report.metrics} metrics, "
          f"{report.prices} prices; skipped {report.skipped}")
    print(f"pandas alone (read_csv of 9 files + to_sql of 3 tables, SQLite): {base:.3f} s")
    for engine, runs in (("SQLite", lite), ("PostgreSQL", pg)):
        first = min(r[0] for r in runs)
        again = min(r[1] for r in runs)
        print(f"virker import-indigo, {engine:10}: {first:.3f} s = {first / base:.2f} x "
              f"pandas (target <= 2); again, unchanged: {again:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()
    import_benchmark()
    if not args.skip_export:
        from benchmarks.open_data_export import export_benchmark

        export_benchmark(args.contracts, args.claims)


if __name__ == "__main__":
    os.environ.setdefault("VIRKER_SECRET_KEY", "benchmark-" + "x" * 32)
    main()
