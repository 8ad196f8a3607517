"""The one money type: an integer number of minor units and an ISO 4217 currency code.

Never a float and never a Decimal in storage: Piccolo's SQLite engine would turn a
Decimal into a float.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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


if TYPE_CHECKING:
    Amount = MinorUnits
else:
    # Litestar converts request bodies in msgspec's lax mode, which would read the string
    # "1e3" and the float 1e3 as the int 1000. Declared this wide, an amount arrives as it
    # was sent, and Money refuses anything but an int itself, whoever decodes it.
    # The schema published at /schema still says what Virker takes: an integer. ("extra" is
    # where Litestar reads schema fields from; msgspec's own schema ignores it.)
    Amount = Annotated[MinorUnits | float | str, msgspec.Meta(
        description="Integer number of minor units (øre, cents)",
        extra_json_schema={"extra": {"one_of": None, "type": "integer", "minimum": 0,
                                     "maximum": 10**15}})]

NOT_AN_INTEGER = ("money is a whole number of minor units (øre, cents), written as a JSON "
                  "integer: 100000 for 1.000,00 DKK; never a string or a decimal")


class Money(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: Amount
    currency: CurrencyCode

    def __post_init__(self) -> None:
        # Messages in the form contracts.schemas.read_field_error reads. 1000.0 and 1e3 are
        # integers by JSON Schema's rules, which the published schema follows: refusing them
        # is a rule of Virker's terms (422), where "1e3" or 1000.5 is no integer at all (400).
        if isinstance(self.amount, float) and self.amount.is_integer():
            raise ValueError(f"[invalid_terms] amount: {NOT_AN_INTEGER}")
        if isinstance(self.amount, (str, float)):
            raise ValueError(f"[invalid_field] amount: {NOT_AN_INTEGER}")

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
