"""Who is calling: password hashing, API keys and the `Principal` every service receives.

API keys are long random secrets, so a single SHA-256 is the right hash for them (it lets
the key be looked up by its hash); passwords are short and human, so they get argon2id.
A key is shown once, at creation, and only its hash and a short prefix are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "vk_"
_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the timing of a failed login
# the same whether or not the account exists.
_DUMMY_HASH = _hasher.hash("virker-no-such-user")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    organisation_id: UUID
    role: str
    user_id: UUID | None = None
    api_key_id: UUID | None = None
    label: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_api_key() -> tuple[str, str, str]:
    """(key, prefix, key_hash) for a fresh key."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(KEY_PREFIX) + 8], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def default_role(org_kind: str) -> str:
    """The role an organisation's API keys get unless another is asked for."""
    if org_kind in ("ngo", "social_enterprise", "municipal_unit", "company"):
        return "provider"
    if org_kind == "audit_firm":
        return "auditor"
    if org_kind == "operator":
        return "admin"
    return "commissioner"


