"""The reference library: what others paid for which outcome and how they validated it,
one reference project in full, its policy sectors, the exchange rates on record, and a
draft contract made from a reference project. Any signed-in user reads; commissioners
draft."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.auth import principal_of
from api.routes.contracts import parse_cursor
from contracts.errors import Malformed
from contracts.schemas import Page
from opendata import rates, reference
from opendata.rates import RatesOnRecord
from opendata.reference import (
    ReferenceDraftIn,
    ReferenceDraftOut,
    ReferenceHit,
    ReferenceProjectOut,
    SectorOut,
)

Currency = Annotated[str | None, QueryParameter(
    pattern="^[A-Z]{3}$", description="ISO 4217: show prices in this currency too, converted "
                                      "at the ECB's reference rates on record")]
Amount = Annotated[int | None, QueryParameter(
    ge=0, le=10**15, description="minor units of `currency` (øre, cents)")]
Text = Annotated[str | None, QueryParameter(max_length=200)]


class ReferenceController(Controller):
    path = "/api/v1/reference"
    tags = ["reference library"]

    @get("/projects", summary="Search what others paid for an outcome, and how they "
                              "validated it",
         description="Outcome metrics of reference projects (INDIGO), by project code and "
                     "metric. `q`: every word must occur in the outcome's definition, "
                     "target, validation method or data source (any case). `sector`: "
                     "INDIGO's policy sector (GET /api/v1/reference/sectors). `min_price` "
                     "and `max_price` are minor units of `currency`, which they need: a "
                     "price in another currency counts at the ECB rate on record, and one "
                     "with no rate on record is left out. With `currency` each price also "
                     "says what it is in that currency and at which rate of which day, or "
                     "that no rate is on record. `priced=true` leaves out metrics without "
                     "a price.")
    async def search(
        self,
        sector: Text = None,
        country: Text = None,
        q: Text = None,
        min_price: Amount = None,
        max_price: Amount = None,
        currency: Currency = None,
        priced: FromQuery[bool] = False,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> Page[ReferenceHit]:
        for name, value in (("sector", sector), ("country", country), ("q", q)):
            if value is not None and "\x00" in value:
                raise Malformed(f"{name} holds a NUL character (\\u0000)",
                                code="invalid_character")
        return await reference.search(
            reference.Search(sector=sector, country=country, q=q, min_price=min_price,
                             max_price=max_price, currency=currency, priced=priced),
            cursor=parse_cursor(cursor), limit=limit)

    @get("/projects/{code:str}", summary="One reference project with everything imported "
                                         "for it")
    async def show(self, code: FromPath[str], currency: Currency = None
                   ) -> ReferenceProjectOut:
        return await reference.project(code, currency=currency)

    @post("/projects/{code:str}/draft", summary="Draft a contract from a reference project "
                                                "(commissioners)",
          description="The project's metrics go into the library (mapped by `metric_map`, "
                      "or to a library metric with the same definition, else added); each "
                      "priced metric becomes a rate card line, converted into the "
                      "contract's currency at the ECB rate on record (422 "
                      "`no_exchange_rate` when there is none); the contract's intervention "
                      "cites the project. The draft is then edited as any draft.")
    async def draft(self, request: Request, code: FromPath[str],
                    data: JSONBody[ReferenceDraftIn]) -> ReferenceDraftOut:
        return await reference.create_draft(principal_of(request), code, data)

    @get("/sectors", summary="The policy sectors of the reference library (INDIGO's names)")
    async def sectors(self) -> list[SectorOut]:
        return await reference.sectors()

    @get("/rates", summary="The exchange rates on record (ECB reference rates)")
    async def exchange_rates(self) -> RatesOnRecord:
        return await rates.on_record()
