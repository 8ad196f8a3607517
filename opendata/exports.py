"""The exports' one door: which contracts an export holds, for whom, and in which standard
(OCDS 1.1 with the metrics extension, INDIGO 4.1, 360Giving 1.4).

- Anyone, without signing in: every contract whose `contract` part is public, or one of
  them, with their public parts only (a contract that is not public does not exist here).
- A contract's parties: the contract with its public parts, as the public gets it (409
  `not_published` while its `contract` part is private). Its commissioners may ask for
  every part (`include_private`), to pass on to whom they choose; anyone else asking so is
  refused (403 `commissioner_only`).
- The command line: the public contracts, or one of them.

Whoever asks, results are suppressed below k as for a reader outside the contract, and
nothing about a participant is in any export. A 360Giving export without a fund among the
commissioners has no grant to give (409 `no_grants`); nothing public at all is 409
`nothing_published`. Exports need neither the standards' schemas nor jsonschema:
`opendata.validate` checks them in the tests and on request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from uuid import UUID

from contracts import service as contracts
from contracts.errors import Conflict, Forbidden, NotFound
from contracts.identity import Principal
from opendata import giving360, indigo_export, ocds
from opendata.facts import ContractFacts, base_url, encode, gather, public_contract_ids

Format = Literal["ocds", "indigo", "360giving"]
FORMATS: tuple[Format, ...] = ("ocds", "indigo", "360giving")
# The file each format is served as.
FILES: dict[str, str] = {"ocds": "ocds.json", "indigo": "indigo.json",
                         "360giving": "360giving.json"}


async def build(fmt: Format, facts: Sequence[ContractFacts], *, uri: str) -> dict:
    """The export of these contracts in `fmt`, as JSON-ready data (amounts as Decimal)."""
    if fmt == "ocds":
        return await ocds.package(facts, uri=uri)
    if fmt == "indigo":
        return await indigo_export.document(facts)
    if fmt == "360giving":
        package = await giving360.package(facts, uri=uri)
        if not package["grants"]:
            raise Conflict("no commissioner of " + ("this contract" if len(facts) == 1 else
                                                    "these contracts")
                           + " is a fund paying grants (an outcome fund or a foundation): "
                             "360Giving has nothing to say", code="no_grants")
        return package
    raise ValueError(f"unknown format {fmt}")


def public_uri(fmt: Format, contract_id: UUID | None = None, base: str | None = None) -> str:
    where = f"/contracts/{contract_id}" if contract_id else ""
    return f"{base_url(base)}/api/v1/open-data{where}/{FILES[fmt]}"


async def public_export(fmt: Format, contract_id: UUID | None = None, *,
                        base: str | None = None, unknown_as_missing: bool = True) -> dict:
    """Every public contract (or the one asked for) in `fmt`, public parts only.

    `unknown_as_missing`: a contract that is not public is 404 `contract_not_found`, as
    for anyone it does not exist; the command line (False) says it is not published."""
    if contract_id is None:
        facts = await gather(await public_contract_ids())
        if not facts:
            raise Conflict("no contract is published yet: a commissioner publishes a contract "
                           "with PUT /api/v1/contracts/{id}/publication",
                           code="nothing_published")
    else:
        facts = await gather([contract_id])
        if not facts:
            if unknown_as_missing:
                raise NotFound("no such contract", code="contract_not_found")
            raise Conflict("the contract is not published: its `contract` part is private",
                           code="not_published")
    return await build(fmt, facts, uri=public_uri(fmt, contract_id, base))


async def contract_export(principal: Principal, contract_id: UUID, fmt: Format, *,
                          include_private: bool = False, base: str | None = None) -> dict:
    """One contract in `fmt` for one of its parties: its public parts, or, for its
    commissioners asking (`include_private`), every part."""
    _, relation = await contracts.relation(principal, contract_id)
    if include_private and relation != "commissioner":
        raise Forbidden("only the contract's commissioners export its private parts; ask "
                        "without include=private for its public parts",
                        code="commissioner_only")
    facts = await gather([contract_id], include_private=include_private)
    if not facts:
        raise Conflict("nothing of this contract is public yet: its `contract` part is "
                       "private" + (" (its commissioners may ask with include=private)"
                                    if relation == "commissioner" else ""),
                       code="not_published")
    uri = (f"{base_url(base)}/api/v1/contracts/{contract_id}/exports/{FILES[fmt]}"
           + ("?include=private" if include_private else ""))
    return await build(fmt, facts, uri=uri)


__all__ = ["FILES", "FORMATS", "Format", "build", "contract_export", "encode",
           "public_export", "public_uri"]
