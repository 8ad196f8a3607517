"""Open-data exports of contracts: OCDS 1.1 release packages with the metrics extension,
INDIGO 4.1 projects and 360Giving grants (opendata.exports).

/api/v1/open-data/… is public (no API key): every contract whose `contract` part its
commissioners have published, or one of them, with its public parts. /api/v1/contracts/
{id}/exports/… is for the contract's parties: its public parts, or every part for its
commissioners asking `?include=private`. Results are suppressed below k for everyone.

The public exports are read from the read replica when there is one (`on_replica`): a part
just published appears in them seconds later. A party's exports read the primary.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from api.auth import principal_of
from core.database import on_replica
from opendata.exports import Format, contract_export, encode, public_export

JSON = "application/json"
PUBLIC = {"exclude_from_auth": True}

Include = Annotated[Literal["private"] | None, QueryParameter(
    description="`private`: every part of the contract, published or not (its "
                "commissioners only; 403 `commissioner_only` for anyone else)")]

WHAT = {
    "ocds": "OCDS 1.1 release package with the metrics extension: parties, planning (the "
            "cap), tender, award and contract with milestones, the rate card as items, agreed "
            "metrics (targets), implementation transactions (payments from the journal) and "
            "metrics (results and citizen voice, suppressed below k)",
    "indigo": "INDIGO 4.1 project ({\"id\", \"data\", \"organisations\"}, every field "
              "{\"value\", \"status\"}): outcome metrics, pricings, payment commitments per "
              "payer, outcome payments planned and actual, results (suppressed below k)",
    "360giving": "360Giving 1.4 grant package: a grant per fund (outcome fund or foundation) "
                 "among the commissioners, its share of the cap awarded",
}


def _json(document: dict) -> Response[dict[str, Any]]:
    """The export as Virker encodes it (amounts as exact JSON numbers). Like everything
    under /api/, kept in no cache (api.headers)."""
    return Response(encode(document), media_type=JSON)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class ExportController(Controller):
    """A contract's exports, for its parties."""

    path = "/api/v1/contracts/{contract_id:uuid}/exports"
    tags = ["open data"]

    async def _export(self, request: Request, contract_id: UUID, fmt: Format,
                      include: str | None) -> Response[dict[str, Any]]:
        document = await contract_export(principal_of(request), contract_id, fmt,
                                         include_private=include == "private",
                                         base=_base(request))
        return _json(document)

    @get("/ocds.json", media_type=JSON, summary="The contract as an " + WHAT["ocds"],
         description="Its public parts; its commissioners may ask for every part "
                     "(`include=private`). 409 `not_published` while the contract's "
                     "`contract` part is private.")
    async def ocds(self, request: Request, contract_id: FromPath[UUID],
                   include: Include = None) -> Response[dict[str, Any]]:
        return await self._export(request, contract_id, "ocds", include)

    @get("/indigo.json", media_type=JSON, summary="The contract as an " + WHAT["indigo"],
         description="Its public parts; its commissioners may ask for every part "
                     "(`include=private`). 409 `not_published` while the contract's "
                     "`contract` part is private.")
    async def indigo(self, request: Request, contract_id: FromPath[UUID],
                     include: Include = None) -> Response[dict[str, Any]]:
        return await self._export(request, contract_id, "indigo", include)

    @get("/360giving.json", media_type=JSON, summary="The contract as a " + WHAT["360giving"],
         description="Its public parts; its commissioners may ask for every part "
                     "(`include=private`). 409 `not_published` while the contract's "
                     "`contract` part is private, `no_grants` when no commissioner is a "
                     "fund.")
    async def giving(self, request: Request, contract_id: FromPath[UUID],
                     include: Include = None) -> Response[dict[str, Any]]:
        return await self._export(request, contract_id, "360giving", include)


class OpenDataController(Controller):
    """What commissioners have published, for anyone: no API key."""

    path = "/api/v1/open-data"
    tags = ["open data"]
    opt = PUBLIC

    @get("/ocds.json", opt=PUBLIC, media_type=JSON,
         summary="Every published contract as an " + WHAT["ocds"] + " (public, no key)",
         description="One release per contract whose `contract` part is public, with its "
                     "public parts only. 409 `nothing_published` before any is.")
    @on_replica
    async def ocds(self, request: Request) -> Response[dict[str, Any]]:
        return _json(await public_export("ocds", base=_base(request)))

    @get("/indigo.json", opt=PUBLIC, media_type=JSON,
         summary="Every published contract as INDIGO 4.1 projects ({\"projects\", "
                 "\"organisations\"}; one contract: {\"id\", \"data\", \"organisations\"}) "
                 "(public, no key)",
         description="Public parts only. 409 `nothing_published` before any contract is.")
    @on_replica
    async def indigo(self, request: Request) -> Response[dict[str, Any]]:
        return _json(await public_export("indigo", base=_base(request)))

    @get("/360giving.json", opt=PUBLIC, media_type=JSON,
         summary="The grants funds pay for published contracts: a " + WHAT["360giving"]
                 + " (public, no key)",
         description="Public parts only. 409 `nothing_published` before any contract is, "
                     "`no_grants` when no published contract has a fund among its "
                     "commissioners.")
    @on_replica
    async def giving(self, request: Request) -> Response[dict[str, Any]]:
        return _json(await public_export("360giving", base=_base(request)))

    @get("/contracts/{contract_id:uuid}/ocds.json", opt=PUBLIC, media_type=JSON,
         summary="One published contract as an " + WHAT["ocds"] + " (public, no key)",
         description="404 `contract_not_found` for a contract that is not published.")
    @on_replica
    async def contract_ocds(self, request: Request, contract_id: FromPath[UUID]
                            ) -> Response[dict[str, Any]]:
        return _json(await public_export("ocds", contract_id, base=_base(request)))

    @get("/contracts/{contract_id:uuid}/indigo.json", opt=PUBLIC, media_type=JSON,
         summary="One published contract as an " + WHAT["indigo"] + " (public, no key)",
         description="404 `contract_not_found` for a contract that is not published.")
    @on_replica
    async def contract_indigo(self, request: Request, contract_id: FromPath[UUID]
                              ) -> Response[dict[str, Any]]:
        return _json(await public_export("indigo", contract_id, base=_base(request)))

    @get("/contracts/{contract_id:uuid}/360giving.json", opt=PUBLIC, media_type=JSON,
         summary="One published contract's grants: a " + WHAT["360giving"]
                 + " (public, no key)",
         description="404 `contract_not_found` for a contract that is not published; 409 "
                     "`no_grants` when no commissioner is a fund.")
    @on_replica
    async def contract_giving(self, request: Request, contract_id: FromPath[UUID]
                              ) -> Response[dict[str, Any]]:
        return _json(await public_export("360giving", contract_id, base=_base(request)))
