"""Schemathesis over /schema/openapi.json: every operation, every check, as a commissioner
and as a provider, on both engines. The server must answer no 500 and nothing the document
does not say.

The app is served over HTTP by uvicorn on 127.0.0.1 in a thread of its own (its event loop
and PostgreSQL pool with it), on a contract with claims, a paid run and a clawback
(tests.integration.test_statements.busy_contract), whose ids most generated requests use.
Schemathesis runs as its command line does, in a process of its own, with every phase
(examples, coverage, fuzzing, stateful) and every check, seeded, with at most MAX_EXAMPLES
cases per operation in a round and SECONDS_PER_ROLE for each role: what the budget leaves
after the coverage phase goes to more rounds of fuzzing. Its JSON report says how many
requests it generated and what failed; a failure's detail, with a curl command that
reproduces it, is the assertion message.

Three settings say what the document cannot:
- a well-formed request may still break a business rule: 422 is an acceptable answer to
  schema-valid data (`positive_data_acceptance`), as each operation's 422 says;
- 413 (too many rows, too large a body) is an acceptable way to refuse invalid data;
- a query parameter given twice is not tried: Litestar reads the last one.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

SEED = 20261126
MAX_EXAMPLES = 10
# A longer run by hand: VIRKER_SCHEMATHESIS_SECONDS=600 make api-contract
SECONDS_PER_ROLE = int(os.environ.get("VIRKER_SCHEMATHESIS_SECONDS", "40"))
BUDGET_SECONDS = SECONDS_PER_ROLE + 60  # loading the document, starting, stopping
ROLES = ("commissioner", "provider")

CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429", "503"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "429", "503"]

# A query parameter sent twice: Litestar takes the last, which OpenAPI has no way to say.
[phases.coverage]
generate-duplicate-query-parameters = false

[dictionaries.contracts]
values = {contracts}
[dictionaries.claims]
values = {claims}
[dictionaries.runs]
values = {runs}

[parameters]
"path.contract_id" = {{ dictionary = "contracts", probability = 0.7 }}
"path.claim_id" = {{ dictionary = "claims", probability = 0.7 }}
"path.run_id" = {{ dictionary = "runs", probability = 0.7 }}

# A statement or remittance takes a worker process a good part of a second to draw: a few
# are drawn, most requests for one ask about a document that is not there.
[dictionaries.rare_contracts]
values = {rare_contracts}
[dictionaries.rare_runs]
values = {rare_runs}
[[operations]]
include-path-regex = "[.]pdf$"
[operations.parameters]
"path.contract_id" = {{ dictionary = "rare_contracts", probability = 1.0 }}
"path.run_id" = {{ dictionary = "rare_runs", probability = 1.0 }}
"""


class LiveServer:
    """The app on a socket of its own, served by uvicorn in a thread until `stop`."""

    def __init__(self, db) -> None:
        import uvicorn

        from api.app import create_app
        from core.settings import Settings

        settings = Settings.from_env({"VIRKER_DATABASE_URL": db.url,
                                      "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"],
                                      "VIRKER_CHECKPOINT_INTERVAL": "0"})
        app = create_app(settings, db.engine)  # the pool lives on the server's own loop
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                                    access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=lambda: asyncio.run(
            self.server.serve(sockets=[self.socket])), daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


@pytest.fixture
async def live(db, world):
    from tests.integration.test_statements import busy_contract

    cid, claims, _, run = await busy_contract(world)
    server = LiveServer(db)
    server.start()
    try:
        yield server, world, {"contracts": [str(cid), *map(str, world.contracts.values())],
                              "claims": [str(c) for c in claims], "runs": [str(run)]}
    finally:
        server.stop()


def fuzz(url: str, key: str, ids: dict[str, list[str]], out: Path) -> dict:
    """Run schemathesis's command line against `url` with `key`; its JSON report."""
    config = out / "schemathesis.toml"
    unknown = [str(uuid.UUID(int=n)) for n in range(1, 10)]
    ids = {**ids, "rare_contracts": ids["contracts"][:1] + unknown,
           "rare_runs": ids["runs"][:1] + unknown}
    config.write_text(CONFIG.format(**{k: json.dumps(v) for k, v in ids.items()}))
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        f"{url}/schema/openapi.json", "--checks", "all", "--seed", str(SEED),
        "--max-examples", str(MAX_EXAMPLES), "--max-time", str(SECONDS_PER_ROLE),
        "--workers", "1",
        "--generation-database", "none", "--no-color", "--output-truncate", "false",
        "--header", f"Authorization: Bearer {key}",
        "--report", "json", "--report-json-path", str(out / "report.json"),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=out,
                              timeout=BUDGET_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"schemathesis took more than {BUDGET_SECONDS} s:\n{exc.stdout}")
    assert (out / "report.json").exists(), done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    report["output"] = done.stdout + done.stderr
    return report


@pytest.mark.parametrize("role", ROLES)
async def test_no_server_error_and_nothing_the_document_does_not_say(live, role, tmp_path,
                                                                     engine_kind):
    server, w, ids = live
    report = await asyncio.to_thread(fuzz, server.url, w.keys[role], ids, tmp_path)
    generated = report["test_cases"]["generated"]
    failures = {f["code"]: f for f in report["failures"]}
    print(f"schemathesis on {engine_kind} as {role}: {generated} requests generated, "
          f"{sum(f['count'] for f in failures.values())} failures, "
          f"{report['running_time']:.0f} s")
    assert report["stop_reason"] in ("completed", "max_time"), report["output"]
    assert not report["errors"], report["output"]
    assert not failures, report["output"][-20_000:]
    operations = report["operations"]
    assert operations["tested"] == operations["selected"] == operations["total"], operations
