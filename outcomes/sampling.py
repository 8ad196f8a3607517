"""Verification samples that anyone holding the seed can redraw.

Each claim is selected when the first 8 bytes of sha256(seed ":" claim id), read as a
big-endian integer, fall below rate × 2^64. The selection of one claim does not depend on
which other claims were in the draw, so an auditor reproduces it from the seed and the ids.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from uuid import UUID

SCALE = 1 << 64


def new_seed() -> str:
    return secrets.token_hex(16)


def is_selected(seed: str, claim_id: UUID, rate_bp: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{claim_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < SCALE * rate_bp // 10_000


def select(seed: str, claim_ids: Iterable[UUID], rate_bp: int) -> list[UUID]:
    return [c for c in claim_ids if is_selected(seed, c, rate_bp)]
