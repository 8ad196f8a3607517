"""Personal identifiers and names in a participant's comment, masked before it is stored.

Pure: no I/O, no framework.
"""

from __future__ import annotations

from contracts import personal


def mask_comment(text: str) -> str:
    return personal.mask(text)
