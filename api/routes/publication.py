"""Open data: what of a contract its commissioners publish (per part, public or private), and
the public "what works" figures built from what they published, which anyone may read
without an account or a key. Those are read from the read replica when there is one
(`on_replica`): a part just published appears there seconds later; its commissioners read
their decisions back from the primary."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Request, get, put
from litestar.params import FromPath, JSONBody, QueryParameter

from api.auth import principal_of
from core.database import on_replica
from opendata import publication, whatworks
from opendata.publication import PublicationIn, PublicationOut
from opendata.whatworks import Subject, WhatWorks

PUBLIC = {"exclude_from_auth": True}

Lang = Annotated[Literal["da", "nb", "en"] | None, QueryParameter(
    name="lang", description="the language the citizen-voice measures are named in (da, nb "
                             "or en; default en)")]


class PublicationController(Controller):
    path = "/api/v1/contracts/{contract_id:uuid}/publication"
    tags = ["open data"]

    @get(summary="What of the contract is public: per part (contract, rate_card, targets, "
                 "results, payments, voice) its status, what it makes public, who decided "
                 "and when",
         description="For the contract's parties. Every part is private until a commissioner "
                     "publishes it, and without `contract` public no part is shown.")
    async def read(self, request: Request, contract_id: FromPath[UUID]) -> PublicationOut:
        return await publication.publication(principal_of(request), contract_id)

    @put(summary="Publish parts of the contract, or take them back (a commissioner of the "
                 "contract)",
         description="`parts` maps a part to `public` or `private`; the parts not named keep "
                     "their status. Decisions are kept with who and when; a published part "
                     "appears on the public \"what works\" pages and in their feed. 422 "
                     "`unknown_part` for a part Virker does not publish.")
    async def decide(self, request: Request, contract_id: FromPath[UUID],
                     data: JSONBody[PublicationIn]) -> PublicationOut:
        return await publication.decide(principal_of(request), contract_id, data)


class WhatWorksController(Controller):
    """The public figures: no account, no key."""

    path = "/api/v1/what-works"
    tags = ["open data"]
    opt = PUBLIC

    @get("/", opt=PUBLIC,
         summary="The outcomes (categories of the metric library, and metrics) with the "
                 "number of public contracts paying for each (public)")
    @on_replica
    async def subjects(self) -> list[Subject]:
        return await whatworks.subjects()

    @get("/{subject:str}", opt=PUBLIC,
         summary="What works for an outcome (a metric or a category), from what the "
                 "commissioners published (public): per contract its price, target, rate "
                 "with its 95 % interval, effect and place against the funnel's limits, and "
                 "citizen-voice scores; listed by reference, never ranked",
         description="A figure is null when its part is not public, when it is about fewer "
                     "than `small_cell_k` people (`suppressed`), or when there is none yet. "
                     "The figures are those GET /comparisons/{subject} gives a reader who is "
                     "party to none of the contracts; the pooled rate is over the contracts "
                     "with public results and no small cell. 404 `subject_not_found`.")
    @on_replica
    async def subject(self, subject: FromPath[str], lang: Lang = None) -> WhatWorks:
        return await whatworks.what_works(subject, language=lang or "en")
