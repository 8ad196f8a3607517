"""The one money type: an integer number of minor units and an ISO 4217 currency code.

Never a float and never a Decimal in storage: Piccolo's SQLite engine would turn a
Decimal into a float.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

# Currencies Virker's users contract in, with their number of minor units.
MINOR_UNITS: dict[str, int] = {
    "DKK": 2, "NOK": 2, "SEK": 2, "EUR": 2, "GBP": 2, "USD": 2, "ISK": 0, "CHF": 2,
}

CurrencyCode = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", examples=["DKK"])]
MinorUnits = Annotated[
    int,
    msgspec.Meta(ge=0, le=10**15, description="Integer number of minor units (øre, cents)"),
]


class Money(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: MinorUnits
    currency: CurrencyCode

    def format(self) -> str:
        digits = MINOR_UNITS.get(self.currency, 2)
        major, minor = divmod(self.amount, 10**digits) if digits else (self.amount, 0)
        text = f"{major:,}".replace(",", ".")
        return f"{text},{minor:0{digits}d} {self.currency}" if digits else f"{text} {self.currency}"


def is_known_currency(code: str) -> bool:
    return code in MINOR_UNITS


def split_by_shares(amount: int, shares_bp: list[int]) -> list[int]:
    """Split `amount` minor units by shares in basis points; the parts sum exactly.

    Largest remainder: each part gets its floor, and the units left over go to the
    parts with the largest remainders (earlier parts first on ties).
    """
    total = sum(shares_bp)
    if total != 10_000:
        raise ValueError("shares must sum to 10,000 basis points")
    floors = [amount * s // total for s in shares_bp]
    remainders = [(amount * s % total, -i) for i, s in enumerate(shares_bp)]
    left = amount - sum(floors)
    for _, neg_i in sorted(remainders, reverse=True)[:left]:
        floors[-neg_i] += 1
    return floors
