"""Who is calling: password hashing, API keys and the `Principal` every service receives.

API keys are long random secrets, so a single SHA-256 is the right hash for them (it lets
the key be looked up by its hash); passwords are short and human, so they get argon2id.
A key is shown once, at creation, and only its hash and a short prefix are stored.
A password must also be hard to guess: zxcvbn estimates how many guesses it would take,
knowing the common passwords, words, names, keyboard patterns, dates and the account's own
email and name, and a password it finds weak is refused with its advice.
"""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

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


# zxcvbn's scores run 0 to 4; 3 is "safely unguessable: moderate protection from an offline
# slow-hash scenario" (about 10^8 guesses and more), the level its authors recommend.
MIN_PASSWORD_SCORE = 3
MIN_PASSWORD_LENGTH = 12
# zxcvbn's own bound on work per estimate; the characters after it only add strength.
_ESTIMATED_LENGTH = 72


def weak_password(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why `password` is too easy to guess, in words that help to choose a better one; None
    when it is strong enough. `user_inputs` are what an attacker knows of the account (email,
    name), which make a password built from them weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    words = [w for value in user_inputs for w in (value, *value.replace("@", " ").split())]
    result = zxcvbn(password[:_ESTIMATED_LENGTH], user_inputs=[*words, "virker"])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = result["feedback"]
    said = [feedback.get("warning") or "This password would be easy to guess.",
            *(feedback.get("suggestions") or
              ["A few unrelated words, in an order only you would choose, are strong and easy "
               "to remember."])]
    return " ".join(s.strip() for s in said if s.strip())


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


