"""The OCDS export of many contracts on PostgreSQL, against pandas alone in the same run
(part 2 of benchmarks/open_data.py).

The contracts, participants and claims are those of benchmarks/effect.py (made and activated
through the services; participants and claims COPYed in), every part of every contract made
public through `opendata.publication.decide`. Then, in alternating rounds:

- **pandas alone**: the same claim rows read from PostgreSQL (COPY to CSV, `read_csv`),
  grouped per contract, line and status, and written as JSON records (`to_json`): reading
  every row the export is computed from and writing a document of the same number of records;
- **Virker**: `opendata.exports.public_export("ocds")`, the release package of every public
  contract (parties, rate card, targets, suppressed results per line and quarter,
  transactions), encoded to JSON bytes.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time

import asyncpg
import pandas as pd

from benchmarks.common import drop, recreate

# benchmarks.effect builds (and tunes) the database of this name.
from benchmarks.effect import NAME as EXPORT


async def _publish_everything(url: str) -> list:
    from contracts.identity import Principal
    from contracts.tables import Contract, ContractParty
    from opendata import publication
    from opendata.publication import PARTS, PublicationIn

    ids = [r["id"] for r in await Contract.select(Contract.id)]
    for cid in ids:
        boss = await ContractParty.select(ContractParty.organisation).where(
            (ContractParty.contract == cid) & (ContractParty.role == "commissioner")).first()
        await publication.decide(
            Principal(organisation_id=boss["organisation"], role="commissioner",
                      label="benchmark"), cid,
            PublicationIn(parts=dict.fromkeys(PARTS, "public")))
    return ids


async def _pandas_alone(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        buffer = io.BytesIO()
        await conn.copy_from_query(
            "SELECT contract, line_code, status, participant, amount FROM claim",
            output=buffer, format="csv", header=True)
    finally:
        await conn.close()
    buffer.seek(0)
    claims = pd.read_csv(buffer)
    grouped = claims.groupby(["contract", "line_code", "status"]).agg(
        claims=("participant", "size"), people=("participant", "nunique"),
        amount=("amount", "sum")).reset_index()
    text = grouped.to_json(orient="records")
    return time.perf_counter() - started, len(text)


async def _virker(url: str) -> tuple[float, int, int]:
    from opendata.exports import public_export
    from opendata.facts import encode

    started = time.perf_counter()
    package = await public_export("ocds")
    data = encode(package, indent=0)
    return time.perf_counter() - started, len(data), len(package["releases"])


def export_benchmark(n_contracts: int, n_claims: int, runs: int = 3) -> None:
    from benchmarks.effect import build
    from core.database import bind, make_engine

    # benchmarks.effect makes about 0.4 claims per participant.
    participants = int(n_contracts * n_claims / 0.4)
    url = asyncio.run(recreate(EXPORT))
    started = time.perf_counter()
    asyncio.run(build(url, n_contracts, participants))

    async def prepare():
        engine = make_engine(url)
        bind(engine)
        await engine.start_connection_pool(min_size=1, max_size=4)
        ids = await _publish_everything(url)
        conn = await asyncpg.connect(url)
        claims = await conn.fetchval("SELECT count(*) FROM claim")
        await conn.close()
        return engine, ids, claims

    async def measure():
        engine, ids, claims = await prepare()
        seeded = time.perf_counter() - started
        base, mine = [], []
        sizes = None
        for _ in range(runs):
            b, b_size = await _pandas_alone(url)
            v, v_size, releases = await _virker(url)
            base.append(b)
            mine.append(v)
            sizes = (b_size, v_size, releases)
        await engine.close_connection_pool()
        return ids, claims, seeded, base, mine, sizes

    ids, claims, seeded, base, mine, sizes = asyncio.run(measure())
    asyncio.run(drop(EXPORT))
    b, v = statistics.median(base), statistics.median(mine)
    print(f"export: {len(ids)} public contracts, {claims:,} claims "
          f"({claims / max(1, len(ids)):,.0f} per contract), seeded in {seeded:.0f} s")
    print(f"pandas alone (COPY claims, read_csv, group, to_json; {sizes[0]:,} bytes): "
          f"median {b:.2f} s of {runs}")
    print(f"virker OCDS release package ({sizes[2]} releases, {sizes[1]:,} bytes): "
          f"median {v:.2f} s = {v / b:.2f} x pandas (target <= 2)")
