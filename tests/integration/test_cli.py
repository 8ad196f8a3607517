"""The `virker` command, as a script would use it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from contracts import directory
from contracts.tables import Contract, Organisation

VIRKER = str(Path(sys.executable).parent / "virker")


def virker(*args: str, url: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([VIRKER, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "VIRKER_DATABASE_URL": url, **env}, check=False)


@pytest.mark.parametrize("command", ["serve", "migrate", "demo", "create-org", "create-user",
                                     "create-api-key"])
def test_every_command_explains_itself(command):
    out = subprocess.run([VIRKER, command, "--help"], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0
    assert "Usage: virker " + command in out.stdout


async def test_scripts_get_the_new_id_and_key_alone_on_stdout(db):
    out = virker("create-org", "--name", "Kirkens Korshær", "--kind", "ngo",
                 "--identifier", "DK-CVR-12345678", url=db.url)
    assert out.returncode == 0, out.stderr
    org_id = uuid.UUID(out.stdout.strip())
    assert (await Organisation.select().where(Organisation.id == org_id).first())["name"] == \
        "Kirkens Korshær"

    out = virker("create-api-key", "--org", "DK-CVR-12345678", url=db.url)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert "\n" not in key and key.startswith("vk_")
    principal = await directory.authenticate_api_key(key)
    assert principal.organisation_id == org_id and principal.role == "provider"

    out = virker("create-user", "--org", str(org_id), "--email", "leder@korshaer.example",
                 "--name", "Leder", "--role", "provider", url=db.url,
                 VIRKER_PASSWORD="a long enough password")
    assert out.returncode == 0, out.stderr
    assert (await directory.login("leder@korshaer.example", "a long enough password")).role \
        == "provider"


async def test_bad_input_fails_with_a_message_and_writes_nothing(db):
    out = virker("create-org", "--name", "X", "--kind", "club", "--identifier",
                 "DK-CVR-1", url=db.url)
    assert out.returncode != 0 and out.stdout == ""
    assert "kind" in out.stderr
    out = virker("create-api-key", "--org", "DK-CVR-00000000", url=db.url)
    assert out.returncode != 0 and "no organisation" in out.stderr
    assert await Organisation.count() == 0


async def test_demo_loads_real_contracts_once(db):
    out = virker("demo", url=db.url)
    assert out.returncode == 0, out.stderr
    assert "vk_demo_roskilde_key" in out.stdout and "virker-demo-2026" in out.stdout
    refs = {r["reference"] for r in await Contract.select(Contract.reference)}
    # The three worked contracts, and the providers delivering the same outcomes beside them.
    assert {"INDIGO-POJ-0263", "INDIGO-POJ-0267", "INDIGO-POJ-0313"} <= refs
    assert len(refs) > 3
    count = await Organisation.count()
    again = virker("demo", url=db.url)
    assert again.returncode == 0 and "already holds data" in again.stdout
    assert await Organisation.count() == count
    principal = await directory.authenticate_api_key("vk_demo_ungebolig_key")
    assert principal.role == "provider"


def test_migrate_builds_a_fresh_sqlite_database(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh/virker.sqlite"
    out = virker("migrate", url=url)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "fresh" / "virker.sqlite").exists()
    again = virker("migrate", url=url)
    assert "No migrations need to be run" in again.stderr
