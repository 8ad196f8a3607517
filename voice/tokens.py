"""Invitation tokens: what a participant's link carries, and what Virker keeps of it.

A token is 32 random bytes (256 bits) written URL-safe. Virker keeps its SHA-256 only, so the
database cannot give a link back; and it keeps the participant's id sealed: XOR-ed with a
key derived from the token by HMAC-SHA256. Whoever holds the link (the participant, and the
provider who handed it over) can unseal it; the database alone cannot tell which participant
an invitation was for, so an invitation used for an anonymous answer points at nobody.

Pure: no I/O, no framework.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from uuid import UUID

TOKEN_BYTES = 32
# What a token looks like: secrets.token_urlsafe(32) gives 43 characters. (Matched whole:
# `$` would also let a trailing line break through.)
SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
_CONTEXT = b"virker voice participant v1"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def looks_like_token(text: str) -> bool:
    return isinstance(text, str) and SHAPE.fullmatch(text) is not None


def _key(token: str) -> bytes:
    return hmac.new(token.encode("ascii"), _CONTEXT, hashlib.sha256).digest()[:16]


def seal(token: str, participant_id: UUID) -> str:
    """The participant's id, readable only with the token (32 hex characters)."""
    return bytes(a ^ b for a, b in zip(participant_id.bytes, _key(token), strict=True)).hex()


def unseal(token: str, sealed: str) -> UUID:
    return UUID(bytes=bytes(a ^ b for a, b in zip(bytes.fromhex(sealed), _key(token),
                                                  strict=True)))
