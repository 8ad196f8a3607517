"""One settings object, read once from the environment.

Virker runs in one of two environments. `development` (the default when the database is
SQLite and VIRKER_ENV is not set, so that `make run` works from a fresh clone) keeps a
random secret key in a file of its own when none is given. `production` (the default for
any other database) refuses to start without a real secret: VIRKER_SECRET_KEY, or the file
VIRKER_SECRET_KEY_FILE names, holding at least 32 characters that are not a published
placeholder, the same on every replica (it signs the CSRF tokens every replica checks).

Beyond one machine (docs/deployment.md): VIRKER_READ_DATABASE_URL names a read replica of
the PostgreSQL primary for the published figures, and VIRKER_REPORT_WORKERS the number of
processes that render documents beside each server process.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///var/virker.sqlite"
ENVIRONMENTS = ("development", "production")
MIN_SECRET_LENGTH = 32
# Each report worker holds WeasyPrint, pandas and what it last laid out: 190 MB and more.
MAX_REPORT_WORKERS = 64
# Values that have been printed in a README, a compose file or a tutorial: whoever read
# them can forge what the key signs.
KNOWN_SECRETS = frozenset({
    "change-me-to-a-long-random-secret", "change-me", "changeme", "change_me", "secret",
    "secret-key", "secret_key", "your-secret-key", "your_secret_key", "mysecretkey",
    "supersecret", "virker", "virker-secret", "development", "insecure", "password",
})
HOW_TO_MAKE_ONE = ("make one with `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'` "
                 "and give every replica the same; or set VIRKER_ENV=development on a machine "
                 "of your own")


class SettingsError(ValueError):
    """The environment does not describe a Virker that may start."""


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
    environment: str = "production"
    # Figures about fewer people than this are suppressed outside a contract's own parties.
    small_cell_k: int = 5
    # Open data (opendata.ocds, indigo_export, giving360): who publishes (default: the
    # operator organisation's name, else the contract's first commissioner), the OCDS ocid
    # prefix, the 360Giving grant id prefix, the public address exports are found at and
    # the licence they carry (a URL; none when empty).
    publisher_name: str = ""
    ocid_prefix: str = "ocds-virker-"
    grant_prefix: str = "360G-virker-"
    public_url: str = ""
    data_license: str = ""
    # A read replica of the primary (PostgreSQL streaming replication) for the figures
    # that may be seconds old: effect, comparisons, advice, the public pages and exports.
    # Empty: everything reads from the primary.
    read_database_url: str = ""
    # Processes rendering statements, remittances and effect reports, per server process.
    report_workers: int = 2

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(f"VIRKER_ENV is {self.environment!r}; use development or "
                                "production")
        if self.environment == "production":
            check_secret(self.secret_key)
        if not 2 <= self.small_cell_k <= 100:
            raise SettingsError(f"VIRKER_SMALL_CELL_K is {self.small_cell_k}; use 2 to 100 "
                                "(5 is the Danish register-research rule)")
        if not 1 <= self.report_workers <= MAX_REPORT_WORKERS:
            raise SettingsError(f"VIRKER_REPORT_WORKERS is {self.report_workers}; use 1 to "
                                f"{MAX_REPORT_WORKERS} (each worker takes 200 to 300 MB; "
                                "one per core left to the server is a good start)")
        if self.read_database_url:
            check_read_replica(self.database_url, self.read_database_url)

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        database_url = env.get("VIRKER_DATABASE_URL", DEFAULT_DATABASE_URL)
        environment = env.get("VIRKER_ENV") or default_environment(database_url)
        return cls(
            database_url=database_url,
            secret_key=_secret(env, database_url, environment),
            host=env.get("VIRKER_HOST", "127.0.0.1"),
            port=_whole(env, "VIRKER_PORT", 8000),
            max_body_bytes=_whole(env, "VIRKER_MAX_BODY_BYTES", 1024 * 1024),
            secure_cookies=env.get("VIRKER_SECURE_COOKIES", "0") == "1",
            checkpoint_interval=_whole(env, "VIRKER_CHECKPOINT_INTERVAL", 3600),
            environment=environment,
            small_cell_k=_whole(env, "VIRKER_SMALL_CELL_K", 5),
            publisher_name=env.get("VIRKER_PUBLISHER_NAME", ""),
            ocid_prefix=env.get("VIRKER_OCID_PREFIX", "ocds-virker-"),
            grant_prefix=env.get("VIRKER_360GIVING_PREFIX", "360G-virker-"),
            public_url=env.get("VIRKER_PUBLIC_URL", ""),
            data_license=env.get("VIRKER_DATA_LICENSE", ""),
            read_database_url=env.get("VIRKER_READ_DATABASE_URL", "").strip(),
            report_workers=_whole(env, "VIRKER_REPORT_WORKERS", 2),
        )


def _whole(env: dict[str, str], name: str, default: int) -> int:
    """A whole number from the environment, or an error that names the variable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} is {raw!r}; it takes a whole number") from None


def _postgresql(url: str) -> bool:
    return url.split(":", 1)[0] in ("postgres", "postgresql")


def check_read_replica(database_url: str, read_url: str) -> None:
    """A read replica is a PostgreSQL standby of a PostgreSQL primary."""
    if not _postgresql(read_url):
        raise SettingsError("VIRKER_READ_DATABASE_URL must be a postgresql:// URL (a read "
                            "replica of the primary)")
    if not _postgresql(database_url):
        raise SettingsError("VIRKER_READ_DATABASE_URL needs a PostgreSQL primary "
                            "(VIRKER_DATABASE_URL); SQLite has no replicas")


def default_environment(database_url: str) -> str:
    """SQLite is the embedded database of a developer's machine; anything else is a server."""
    return "development" if database_url.startswith("sqlite:") else "production"


def check_secret(secret: str) -> None:
    """Refuse a secret key that anyone could know or guess."""
    if not secret:
        raise SettingsError(f"VIRKER_SECRET_KEY is not set: {HOW_TO_MAKE_ONE}")
    if secret.strip().lower() in KNOWN_SECRETS:
        raise SettingsError(f"VIRKER_SECRET_KEY is a published placeholder: {HOW_TO_MAKE_ONE}")
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(f"VIRKER_SECRET_KEY has {len(secret)} characters, fewer than "
                            f"{MIN_SECRET_LENGTH}: {HOW_TO_MAKE_ONE}")


def secret_key_file(env: dict[str, str], database_url: str) -> Path:
    """Where the secret key is kept when it is not in the environment: VIRKER_SECRET_KEY_FILE,
    else `secret_key` beside the SQLite database, else in the user's state folder."""
    if env.get("VIRKER_SECRET_KEY_FILE"):
        return Path(env["VIRKER_SECRET_KEY_FILE"])
    if database_url.startswith("sqlite:///") and len(database_url) > len("sqlite:///"):
        return Path(database_url[len("sqlite:///"):]).parent / "secret_key"
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "virker" / "secret_key"


def _secret(env: dict[str, str], database_url: str, environment: str) -> str:
    if env.get("VIRKER_SECRET_KEY"):
        return env["VIRKER_SECRET_KEY"]
    path = secret_key_file(env, database_url)
    if environment == "development":
        return _local_secret(path)
    # Production reads a file it is given (a container's secret) but never makes one: a key
    # made here would differ from every other replica's.
    if env.get("VIRKER_SECRET_KEY_FILE"):
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise SettingsError(f"VIRKER_SECRET_KEY_FILE {path} cannot be read: "
                                f"{exc.strerror}") from None
    return ""


def _local_secret(path: Path) -> str:
    """A per-installation secret, so that sessions and forms survive a restart."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created readable by its owner alone, never for a moment by anyone else.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(key)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
