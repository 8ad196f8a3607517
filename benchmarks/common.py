"""Shared pieces of the benchmarks: a scratch PostgreSQL database, a real server process,
and the people and contract the load is about."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import httpx
import msgspec

ADMIN_URL = os.environ.get("VIRKER_BENCH_DATABASE_URL",
                           "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


def db_url(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path="/" + name))


async def recreate(name: str, template: str | None = None) -> str:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        extra = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{extra}')
    finally:
        await conn.close()
    return db_url(name)


async def drop(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python "
            f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(url: str, workers: int = 1):
    """`virker serve` in its own process on a free port (with `workers` worker processes);
    yields (base_url, pid)."""
    port = free_port()
    env = {**os.environ, "VIRKER_DATABASE_URL": url, "VIRKER_PORT": str(port),
           "VIRKER_SECRET_KEY": "benchmark-" + "x" * 32}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "virker"), "serve",
                             "--workers", str(workers)], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start: " + proc.stderr.read().decode())
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


async def seed(url: str, participants: int, sampling_rate_bp: int = 1000) -> dict:
    """Migrate, then a commissioner, a provider with an API key, the metrics and one active
    contract with `participants` enrolled. Returns ids and the key."""
    from contracts import directory, library, service
    from contracts.identity import Principal
    from contracts.schemas import ApiKeyIn, ContractIn, MetricIn, OrganisationIn
    from core.database import bind, make_engine, migrate
    from outcomes import intake
    from outcomes.schemas import ParticipantIn

    engine = make_engine(url)
    bind(engine)
    await migrate()
    boss = await directory.create_organisation(None, OrganisationIn(
        name="Holbæk Kommune", kind="municipality", identifier="DK-CVR-90000004"))
    ngo = await directory.create_organisation(None, OrganisationIn(
        name="IPS-teamet", kind="municipal_unit", identifier="DK-CVR-90000008"))
    key = (await directory.create_api_key(None, ApiKeyIn(label="bench",
                                                         organisation_id=ngo.id))).key
    boss_key = (await directory.create_api_key(None, ApiKeyIn(label="bench",
                                                              organisation_id=boss.id))).key
    for code, kind in [("employment", "event"), ("fit_for_work", "event")]:
        await library.create_metric(None, msgspec.convert(dict(
            code=code, name=code, definition="d", unit="participant", kind=kind,
            evidence_required="e", verification_source="admin_data"), MetricIn))
    money = {"currency": "DKK"}
    contract = await service.create_contract(None, msgspec.convert(dict(
        reference="BENCH-1", title="Benchmark", provider_id=str(ngo.id), currency="DKK",
        terms=dict(service_period={"start": "2024-01-01", "end": "2026-12-31"},
                   enrolment_period={"start": "2024-01-01", "end": "2026-06-30"},
                   claims_deadline="2030-12-31", cap={"amount": 10**13, **money},
                   commissioners=[{"organisation_id": str(boss.id), "share_bp": 10_000}],
                   sampling_rate_bp=sampling_rate_bp,
                   rate_card=[
                       dict(code="job", metric_code="employment",
                            price={"amount": 3_500_000, **money}),
                       dict(code="fit", metric_code="fit_for_work",
                            price={"amount": 1_000_000, **money})])), ContractIn))
    from ledger import commitments

    await commitments.activate(Principal(organisation_id=boss.id, role="commissioner"),
                               contract.id, "benchmark")
    import datetime as dt

    # Enrolled through intake, the one door for enrolment, 10,000 a batch.
    provider = Principal(organisation_id=ngo.id, role="provider", label="bench")
    for start in range(0, participants, 10_000):
        rows = [(i, ParticipantIn(pseudonym=f"P-{i}", enrolled_on=dt.date(2024, 2, 1)), [])
                for i in range(start, min(participants, start + 10_000))]
        await intake.submit_participants(intake.Submission(
            principal=provider, contract_id=contract.id, kind="participants",
            idempotency_key=f"enrol-{start}", body_hash=f"enrol-{start}"), rows)
    # A live database has statistics for its tables (autovacuum keeps them); a freshly
    # seeded one has none until the first ANALYZE.
    await engine.run_ddl("ANALYZE")
    return {"contract_id": contract.id, "key": key, "commissioner_key": boss_key,
            "provider_id": ngo.id}


def claim_rows(start: int, count: int, metric: str = "employment") -> list[dict]:
    return [{"client_ref": f"{metric}-{i}", "pseudonym": f"P-{i}", "metric_code": metric,
             "achieved_on": "2024-06-01", "evidence_ref": f"eindkomst-{i}"}
            for i in range(start, start + count)]


def run(coro):
    return asyncio.run(coro)


def as_uuid(value) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


# A server that runs for a long time, and the memory of each of its processes ---------------


@contextmanager
def logged_server(url: str, log: Path, workers: int = 1, env: dict[str, str] | None = None):
    """`virker serve --workers N` on a free loopback port, its output appended to `log` (a
    pipe nobody reads would stop a long-running server once full), with `env` added to the
    environment; yields (base_url, pid of the master process)."""
    port = free_port()
    full = {**os.environ, "VIRKER_DATABASE_URL": url, "VIRKER_PORT": str(port),
            "VIRKER_HOST": "127.0.0.1", "VIRKER_SECRET_KEY": "benchmark-" + "x" * 32,
            **(env or {})}
    out = log.open("ab")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "virker"), "serve",
                             "--host", "127.0.0.1", "--workers", str(workers)], env=full,
                            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"the server stopped; see {log}")
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the server did not start; see {log}")
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def process_tree(pid: int) -> dict[int, int]:
    """`pid` and every process below it, each with its depth (0 for `pid` itself)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the parent follows it.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    depth, frontier = {pid: 0}, [pid]
    while frontier:
        nxt = [child for child, parent in parents.items() if parent in frontier]
        for child in nxt:
            depth[child] = depth[parents[child]] + 1
        frontier = nxt
    return depth


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) used so far by the server `pid` and its worker processes
    ("server") and by the processes below those, reaped ones included ("reports")."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"server": 0.0, "reports": 0.0}
    for p, depth in process_tree(pid).items():
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        own, children = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        out["server" if depth <= 1 else "reports"] += own / tick
        if depth == 1:
            out["reports"] += children / tick
    return out


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (not idle, not waiting for I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


async def backend_pids(name: str) -> list[int]:
    """The PostgreSQL backends connected to the database `name`."""
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        return [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", name)]
    finally:
        await conn.close()


def process_cpu(pid: int) -> float:
    """CPU time (user + system) the process `pid` has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
