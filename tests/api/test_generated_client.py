"""A client generated from /schema/openapi.json works: openapi-python-client, a well-kept
generator, makes one from the live document, and a provider's day is done with it alone."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from uuid import UUID

import pytest

from tests.helpers import active_contract

PACKAGE = "virker_client"
# The generator's own settings, not the document's: post_hooks would run ruff over the
# output; it reads PDFs and SVG charts as files when told they are bytes.
CONFIG = f"""
package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  application/pdf: application/octet-stream
  image/svg+xml: application/octet-stream
"""


def generate(document: dict, into: Path) -> str:
    """Generate the client package under `into`; the generator's output."""
    (into / "openapi.json").write_text(json.dumps(document))
    (into / "config.yaml").write_text(CONFIG)
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate",
         "--path", str(into / "openapi.json"), "--config", str(into / "config.yaml"),
         "--meta", "none", "--output-path", str(into / PACKAGE)],
        capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


class Generated:
    """The generated package, imported from its folder; each operation found by its method
    and path, whatever name the generator gave its module."""

    def __init__(self, folder: Path) -> None:
        sys.path.insert(0, str(folder))
        self.folder = folder
        self.package = importlib.import_module(PACKAGE)
        self.models = importlib.import_module(f"{PACKAGE}.models")

    def operation(self, method: str, path: str) -> ModuleType:
        for file in sorted((self.folder / PACKAGE / "api").rglob("*.py")):
            text = file.read_text()
            if f'"method": "{method.lower()}"' in text and f'"url": "{path}"' in text:
                name = ".".join(file.relative_to(self.folder).with_suffix("").parts)
                return importlib.import_module(name)
        raise LookupError(f"no generated operation for {method} {path}")

    def close(self) -> None:
        sys.path.remove(str(self.folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
async def client_package(api, tmp_path):
    document = (await api.get("/schema/openapi.json")).json()
    output = generate(document, tmp_path)
    # The generator reads everything but CSV request bodies (it sends the JSON form).
    warnings = re.findall(r"WARNING parsing (\w+ \S+)[^\n]*\n+(.*)", output)
    assert warnings, output  # the two batch endpoints
    assert all(reason.startswith("Unsupported content type text/csv")
               for _, reason in warnings), output
    generated = Generated(tmp_path)
    try:
        yield generated
    finally:
        generated.close()


async def test_a_provider_does_its_day_with_a_generated_client(api, world, client_package):
    w, gen = world, client_package
    contract_id = await active_contract(w)
    api.headers["Authorization"] = f"Bearer {w.keys['provider']}"
    client = gen.package.AuthenticatedClient(base_url=str(api.base_url), token="unused")
    client.set_async_httpx_client(api)  # the test app, in-process (tests/conftest.py)
    m = gen.models

    # The contracts it delivers.
    listed = await gen.operation("GET", "/api/v1/contracts").asyncio_detailed(client=client)
    assert listed.status_code == 200
    assert contract_id in [c.id for c in listed.parsed.items]
    contract = next(c for c in listed.parsed.items if c.id == contract_id)
    assert contract.status == "active"

    # Enrol two participants.
    enrolled = await gen.operation(
        "POST", "/api/v1/contracts/{contract_id}/participants").asyncio_detailed(
        contract_id, client=client,
        body=[m.ParticipantIn(pseudonym=p, enrolled_on=dt.date(2024, 2, 1)) for p in
              ("ROS-1", "ROS-2")])
    assert enrolled.status_code == 201, enrolled.content
    assert [r.status.value for r in enrolled.parsed.results] == ["created", "created"]

    # Claim, with an Idempotency-Key; the report says row by row what was accepted.
    submit = gen.operation("POST", "/api/v1/contracts/{contract_id}/claims")
    claims = [m.ClaimIn(client_ref="c1", pseudonym="ROS-1", metric_code="housing_entry",
                        achieved_on=dt.date(2024, 3, 1), evidence_ref="lease-1"),
              m.ClaimIn(client_ref="c2", pseudonym="ROS-9", metric_code="housing_entry",
                        achieved_on=dt.date(2024, 3, 1), evidence_ref="lease-9")]
    first = await submit.asyncio_detailed(contract_id, client=client, body=claims,
                                          idempotency_key="2024-03-batch-1")
    assert first.status_code == 201, first.content
    assert first.headers["Idempotent-Replayed"] == "false"
    report = first.parsed
    assert isinstance(report, m.BatchReport)
    assert (report.rows, report.accepted, report.rejected) == (2, 1, 1)
    accepted, rejected = report.results
    assert accepted.status.value == "accepted" and accepted.amount.amount == 1_500_000
    assert [e.code for e in rejected.errors] == ["not_enrolled"]

    # Sent again after a lost answer: the same report, not a second claim.
    again = await submit.asyncio_detailed(contract_id, client=client, body=claims,
                                          idempotency_key="2024-03-batch-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.parsed.batch_id == report.batch_id

    # The same key for another batch is refused, as a problem the client can read.
    clash = await submit.asyncio_detailed(contract_id, client=client, body=claims[:1],
                                          idempotency_key="2024-03-batch-1")
    assert clash.status_code == 409
    assert isinstance(clash.parsed, m.ProblemDetails)
    assert clash.parsed.code == "idempotency_key_reused"

    # The report again, later, and the claim it accepted.
    batch = await gen.operation("GET", "/api/v1/batches/{batch_id}").asyncio_detailed(
        report.batch_id, client=client)
    assert batch.status_code == 200, batch.content
    listed_claims = await gen.operation(
        "GET", "/api/v1/contracts/{contract_id}/claims").asyncio_detailed(
        contract_id, client=client)
    assert [(c.client_ref, c.status.value) for c in listed_claims.parsed.items] == [
        ("c1", "accepted")]
    assert isinstance(listed_claims.parsed.items[0].id, UUID)
