"""One settings object, read once from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///var/virker.sqlite"


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    host: str
    port: int
    # Everything but the batch endpoints is small (those set their own limit).
    max_body_bytes: int
    secure_cookies: bool
    # Seconds between automatic checkpoints of the journal (0: only after payment runs).
    checkpoint_interval: int = 3600

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=env.get("VIRKER_DATABASE_URL", DEFAULT_DATABASE_URL),
            secret_key=env.get("VIRKER_SECRET_KEY") or _local_secret(),
            host=env.get("VIRKER_HOST", "127.0.0.1"),
            port=int(env.get("VIRKER_PORT", "8000")),
            max_body_bytes=int(env.get("VIRKER_MAX_BODY_BYTES", str(1024 * 1024))),
            secure_cookies=env.get("VIRKER_SECURE_COOKIES", "0") == "1",
            checkpoint_interval=int(env.get("VIRKER_CHECKPOINT_INTERVAL", "3600")),
        )


def _local_secret() -> str:
    """A per-installation secret kept in ./var, so sessions survive a restart.

    Production sets VIRKER_SECRET_KEY (the same on every replica).
    """
    path = Path("var/secret_key")
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
