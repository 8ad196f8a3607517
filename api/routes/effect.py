"""Effect: what the money achieved per contract, comparison across contracts, allocation
advice with the commissioner's decision, and the liability forecast."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.auth import principal_of
from effect import service
from effect.schemas import Advice, Comparison, ContractEffect, Decision, DecisionIn, Forecast

AsOf = Annotated[dt.date | None, QueryParameter(
    name="as_of", description="the day the figures are for (default today, UTC): who counts "
                              "as observed depends on it")]
Subject = Annotated[str, QueryParameter(
    description="a metric code (e.g. ips_employment) or a category of the metric library "
                "(e.g. employment.entry)", min_length=1, max_length=64)]


class EffectController(Controller):
    path = "/api/v1"
    tags = ["effect"]

    @get("/contracts/{contract_id:uuid}/effect",
         summary="Effect of a contract: per rate card line the participants enrolled, "
                 "observed and achieving, the rate with its 95 % interval, progress against "
                 "target, uplift against the baseline, and money per outcome; broken down by "
                 "age band, area, cohort, enrolment quarter and (in a partnership) provider",
         description="For the contract's parties. A partner sees the partnership's figures "
                     "and its own part, not the other partners'.")
    async def contract_effect(self, request: Request, contract_id: FromPath[UUID],
                              as_of: AsOf = None) -> ContractEffect:
        return await service.contract_effect(principal_of(request), contract_id, as_of=as_of)

    @get("/comparisons/{subject:str}",
         summary="Every contract that pays for a metric (or a category of metrics), on a "
                 "funnel plot: rates with intervals, prices, cost per outcome; never ranked",
         description="Figures about fewer than `small_cell_k` people of contracts you are "
                     "not a party to are suppressed, with a second figure where a total would "
                     "give the first back.")
    async def comparison(
        self, request: Request, subject: FromPath[str],
        by: Annotated[Literal["age_band", "area", "cohort", "quarter"] | None,
                      QueryParameter(description="also break each contract down by this")
                      ] = None,
        as_of: AsOf = None,
    ) -> Comparison:
        return await service.comparison(principal_of(request), subject, by=by, as_of=as_of)

    @get("/advice",
         summary="Allocation advice for a metric or category across providers (commissioners):"
                 " a band per contract with its evidence, a bounded shift of next period's "
                 "volume and a repricing signal")
    async def advice(
        self, request: Request, subject: Subject,
        shift: Annotated[float, QueryParameter(
            ge=0.05, le=0.10, description="share of a reviewed contract's volume to move")
                         ] = 0.10,
        as_of: AsOf = None,
    ) -> Advice:
        return await service.advise(principal_of(request), subject, shift_share=shift,
                                    as_of=as_of)

    @get("/advice/{subject:str}/decisions",
         summary="Decisions taken on the advice for a metric or category, with who and when")
    async def decisions(self, request: Request, subject: FromPath[str]) -> list[Decision]:
        return await service.list_decisions(principal_of(request), subject)

    @post("/advice/{subject:str}/decisions",
          summary="Accept the advice for one of your contracts (Virker drafts the variation "
                  "for you to review and propose) or override it with a justification")
    async def decide(self, request: Request, subject: FromPath[str],
                     data: JSONBody[DecisionIn]) -> Decision:
        return await service.decide(principal_of(request), subject, data)

    @get("/forecast",
         summary="Outcome payments still to come, expected and 90th percentile per quarter, "
                 "bounded by the caps: for one contract, or a commissioner's portfolio")
    async def forecast(
        self, request: Request,
        contract_id: Annotated[UUID | None, QueryParameter(
            description="one contract (any party); without it, your portfolio")] = None,
        organisation_id: Annotated[UUID | None, QueryParameter(
            description="the commissioner whose portfolio (administrators)")] = None,
    ) -> Forecast:
        return await service.liability_forecast(principal_of(request), contract_id=contract_id,
                                                 organisation_id=organisation_id)
