"""The web's defaults: security headers on every page, nothing of the API in a cache, and no
start without a real secret outside development."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
PG = "postgresql://virker@db.example:5432/virker"
STRONG = "k3Jf9-long-random-secret-for-the-tests-only-0f9a"


def assert_page_headers(r) -> None:
    csp = r.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]  # no inline script, nothing from elsewhere
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"


async def test_every_page_carries_the_security_headers(api, world):
    for path in ("/login", "/"):
        r = await api.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert_page_headers(r)
    r = await api.post("/login", data={"email": "x@y.example", "password": "wrong",
                                       "_csrf_token": api.cookies.get("csrftoken")})
    assert r.status_code == 401
    assert_page_headers(r)


async def test_the_documentation_page_may_not_be_framed_either(api, db):
    r = await api.get("/schema")
    assert r.status_code == 200
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


def test_the_templates_carry_no_inline_script():
    for template in (ROOT / "api" / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "javascript:" not in text, template.name


async def test_nothing_the_api_answers_is_kept_in_a_cache(api, world):
    answers = [
        await api.get("/api/v1/contracts", headers=world.headers("provider")),
        await api.get("/api/v1/contracts"),  # 401
        await api.get("/api/v1/no-such-thing", headers=world.headers("provider")),  # 404
        await api.post("/api/v1/contracts", headers=world.headers("provider"),
                       content=b"{"),  # 400: not JSON
        await api.get("/auth/me"),  # 401 outside /api
    ]
    assert [r.status_code for r in answers][:3] == [200, 401, 404]
    for r in answers:
        assert r.headers["cache-control"] == "no-store", r.request.url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    for r in answers[1:]:
        assert r.headers["content-type"].startswith("application/problem+json")


# The secret key ------------------------------------------------------------------------------


@pytest.mark.parametrize("secret, says", [
    (None, "not set"),
    ("", "not set"),
    ("change-me-to-a-long-random-secret", "published placeholder"),
    ("CHANGEME", "published placeholder"),
    ("short-but-random-9f8e", "fewer than 32"),
])
def test_production_refuses_a_missing_known_or_short_secret(secret, says, tmp_path):
    env = {"VIRKER_DATABASE_URL": PG, "XDG_STATE_HOME": str(tmp_path)}
    if secret is not None:
        env["VIRKER_SECRET_KEY"] = secret
    with pytest.raises(SettingsError, match=says):
        Settings.from_env(env)
    # The same on SQLite when production is asked for.
    with pytest.raises(SettingsError, match=says):
        Settings.from_env({**env, "VIRKER_DATABASE_URL": f"sqlite:///{tmp_path}/v.sqlite",
                           "VIRKER_ENV": "production"})
    assert not (tmp_path / "secret_key").exists()


def test_production_accepts_a_long_unknown_secret():
    settings = Settings.from_env({"VIRKER_DATABASE_URL": PG, "VIRKER_SECRET_KEY": STRONG})
    assert settings.environment == "production" and settings.secret_key == STRONG


def test_production_reads_a_secret_file_it_is_given_and_never_makes_one(tmp_path):
    path = tmp_path / "run-secrets" / "virker"
    env = {"VIRKER_DATABASE_URL": PG, "VIRKER_SECRET_KEY_FILE": str(path)}
    with pytest.raises(SettingsError, match="cannot be read"):
        Settings.from_env(env)
    assert not path.exists()
    path.parent.mkdir()
    path.write_text(STRONG + "\n")
    assert Settings.from_env(env).secret_key == STRONG
    path.write_text("changeme")
    with pytest.raises(SettingsError, match="published placeholder"):
        Settings.from_env(env)


def test_development_keeps_its_own_secret_beside_the_sqlite_database(tmp_path):
    url = f"sqlite:///{tmp_path}/data/virker.sqlite"
    settings = Settings.from_env({"VIRKER_DATABASE_URL": url})
    assert settings.environment == "development"
    path = tmp_path / "data" / "secret_key"
    assert path.read_text() == settings.secret_key and len(settings.secret_key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The same secret next time, so that sessions and forms survive a restart.
    assert Settings.from_env({"VIRKER_DATABASE_URL": url}).secret_key == settings.secret_key


def test_the_secret_file_is_where_settings_say_not_in_the_current_directory(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "keys" / "virker.key"
    settings = Settings.from_env({"VIRKER_DATABASE_URL": f"sqlite:///{tmp_path}/db/v.sqlite",
                                  "VIRKER_SECRET_KEY_FILE": str(elsewhere)})
    assert elsewhere.read_text() == settings.secret_key
    assert not (tmp_path / "var").exists() and not (tmp_path / "db" / "secret_key").exists()


def test_development_takes_any_secret_it_is_given(tmp_path):
    for env in ({"VIRKER_DATABASE_URL": f"sqlite:///{tmp_path}/v.sqlite",
                 "VIRKER_SECRET_KEY": "dev"},
                {"VIRKER_DATABASE_URL": PG, "VIRKER_ENV": "development",
                 "VIRKER_SECRET_KEY": "changeme"}):
        assert Settings.from_env(env).environment == "development"


def test_development_on_postgresql_keeps_its_secret_in_the_users_state_folder(tmp_path):
    settings = Settings.from_env({"VIRKER_DATABASE_URL": PG, "VIRKER_ENV": "development",
                                  "XDG_STATE_HOME": str(tmp_path)})
    assert (tmp_path / "virker" / "secret_key").read_text() == settings.secret_key


def test_an_unknown_environment_is_refused():
    with pytest.raises(SettingsError, match="VIRKER_ENV"):
        Settings.from_env({"VIRKER_DATABASE_URL": PG, "VIRKER_ENV": "staging",
                           "VIRKER_SECRET_KEY": STRONG})


def test_the_server_refuses_to_start_without_a_secret_outside_development(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRKER_")}
    env.update(VIRKER_DATABASE_URL=PG, HOME=str(tmp_path))
    virker = str(Path(sys.executable).parent / "virker")
    out = subprocess.run([virker, "serve", "--port", "1"], capture_output=True, text=True,
                         env=env, timeout=60, check=False)
    assert out.returncode != 0
    assert "VIRKER_SECRET_KEY is not set" in out.stderr


def test_docker_compose_has_no_default_secret():
    yaml = pytest.importorskip("yaml")
    text = (ROOT / "docker-compose.yml").read_text()
    app = yaml.safe_load(text)["services"]["app"]["environment"]
    assert app["VIRKER_SECRET_KEY"].startswith("${VIRKER_SECRET_KEY:?")
    assert app["VIRKER_ENV"] == "production"
    assert not re.search(r"VIRKER_SECRET_KEY:-", text)


async def test_options_names_every_method_of_a_path(api, world):
    # /api/v1/contracts takes GET (list) and POST (create): both are named.
    r = await api.options("/api/v1/contracts", headers=world.headers("commissioner"))
    assert r.status_code == 204
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST", "OPTIONS"}
