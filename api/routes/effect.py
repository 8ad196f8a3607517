"""Effect: what the money achieved per contract, comparison across contracts, allocation
advice with the commissioner's decision, and the liability forecast; and their documents,
the funnel plot (SVG) and the effect reports (PDF/A-3u, rendered in the report workers).

The figures may be seconds old: they are read from the read replica when there is one
(`on_replica`); the decisions on the advice, which their maker reads back at once, are not."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.auth import principal_of
from api.routes.reports import PDF, Lang, _pdf
from core.database import on_replica
from effect import service
from effect.schemas import (
    AdviceDecisionIn,
    AdviceDecisionOut,
    Comparison,
    Forecast,
)
from reports import documents
from reports import effect as effect_documents
from voice import figures as voice_figures
from voice.schemas import AdviceWithVoice, ContractEffectWithVoice

SVG = "image/svg+xml"

AsOf = Annotated[dt.date | None, QueryParameter(
    name="as_of", description="the day the figures are for (default today, UTC): who counts "
                              "as observed depends on it")]

VoiceLang = Annotated[Literal["da", "nb", "en"] | None, QueryParameter(
    name="lang", description="the language the citizen-voice measures are named in (da, nb "
                             "or en; default en)")]


class EffectController(Controller):
    path = "/api/v1"
    tags = ["effect"]

    @get("/contracts/{contract_id:uuid}/effect",
         summary="Effect of a contract: per rate card line the participants enrolled, "
                 "observed and achieving, the rate with its 95 % interval, progress against "
                 "target, uplift against the baseline, and money per outcome; broken down by "
                 "age band, area, cohort, enrolment quarter and (in a partnership) provider",
         description="For the contract's parties. A partner sees the partnership's figures "
                     "and its own part, not the other partners'. `voice` holds the "
                     "contract's citizen voice (as GET /contracts/{id}/voice gives it, "
                     "measures named in `lang`): context that never changes a payment.")
    @on_replica
    async def contract_effect(self, request: Request, contract_id: FromPath[UUID],
                              as_of: AsOf = None, lang: VoiceLang = None
                              ) -> ContractEffectWithVoice:
        return await voice_figures.effect_with_voice(principal_of(request), contract_id,
                                                     as_of=as_of, language=lang or "en")

    @get("/comparisons/{subject:str}",
         summary="Every contract that pays for a metric (or a category of metrics), on a "
                 "funnel plot: rates with intervals, prices, cost per outcome; never ranked",
         description="Figures about fewer than `small_cell_k` people of contracts you are "
                     "not a party to are suppressed, with a second figure where a total would "
                     "give the first back.")
    @on_replica
    async def comparison(
        self, request: Request, subject: FromPath[str],
        by: Annotated[Literal["age_band", "area", "cohort", "quarter"] | None,
                      QueryParameter(description="also break each contract down by this")
                      ] = None,
        as_of: AsOf = None,
    ) -> Comparison:
        return await service.comparison(principal_of(request), subject, by=by, as_of=as_of)

    @get("/advice/{subject:str}",
         summary="Allocation advice for a metric or category across providers (commissioners):"
                 " a band per contract with its evidence, a bounded shift of next period's "
                 "volume and a repricing signal",
         description="`voice` gives, per contract, what its participants said (respondents "
                     "to the relational questions, the share with one contact person, how "
                     "much it helped), suppressed below `small_cell_k`: context for the "
                     "person deciding, which changes neither band nor shift.")
    @on_replica
    async def advice(
        self, request: Request, subject: FromPath[str],
        shift: Annotated[float, QueryParameter(
            ge=0.05, le=0.10, description="share of a reviewed contract's volume to move")
                         ] = 0.10,
        as_of: AsOf = None,
    ) -> AdviceWithVoice:
        return await voice_figures.advise_with_voice(principal_of(request), subject,
                                                     shift_share=shift, as_of=as_of)

    @get("/advice/{subject:str}/decisions",
         summary="Decisions taken on the advice for a metric or category, with who and when")
    async def decisions(self, request: Request, subject: FromPath[str]) -> list[AdviceDecisionOut]:
        return await service.list_decisions(principal_of(request), subject)

    @post("/advice/{subject:str}/decisions",
          summary="Accept the advice for one of your contracts (Virker drafts the variation "
                  "for you to review and propose) or override it with a justification")
    async def decide(self, request: Request, subject: FromPath[str],
                     data: JSONBody[AdviceDecisionIn]) -> AdviceDecisionOut:
        return await service.decide(principal_of(request), subject, data)

    @get("/contracts/{contract_id:uuid}/forecast",
         summary="Outcome payments the contract may still owe, expected and 90th percentile per"
                 " quarter, bounded by its caps (any party)")
    @on_replica
    async def contract_forecast(self, request: Request, contract_id: FromPath[UUID]
                                ) -> Forecast:
        return await service.liability_forecast(principal_of(request), contract_id=contract_id)

    @get("/forecast",
         summary="Outcome payments still to come across a commissioner's contracts, by its "
                 "share of each, expected and 90th percentile per quarter, bounded by the caps")
    @on_replica
    async def forecast(
        self, request: Request,
        organisation_id: Annotated[UUID | None, QueryParameter(
            description="the commissioner whose portfolio (administrators; others see their "
                        "own)")] = None,
    ) -> Forecast:
        return await service.liability_forecast(principal_of(request),
                                                 organisation_id=organisation_id)

    @get("/comparisons/{subject:str}/funnel.svg", media_type=SVG,
         summary="The comparison's funnel plot (SVG): each contract a point at its observed "
                 "participants and rate, labelled by reference and never ranked, the pooled "
                 "rate and the 95 % and 99.8 % limits, your own contracts marked",
         description="Contracts whose figures are suppressed for you are not drawn; a note "
                     "under the plot says how many. `lang` sets the number format.")
    @on_replica
    async def funnel(self, request: Request, subject: FromPath[str], as_of: AsOf = None,
                     lang: Lang = None) -> Response[str]:
        svg = await effect_documents.funnel_svg_for(principal_of(request), subject,
                                                    as_of=as_of, lang=lang)
        return Response(svg, media_type=SVG, headers={"Cache-Control": "no-store"})

    @get("/contracts/{contract_id:uuid}/effect.pdf", media_type=PDF,
         summary="The contract's effect report, PDF/A-3u: the figures of GET /effect with "
                 "the liability forecast and the method, the JSON attached",
         description="For the contract's parties, with the figures each gets from GET "
                     "/effect (a partner its own part).")
    @on_replica
    async def contract_effect_pdf(self, request: Request, contract_id: FromPath[UUID],
                                  as_of: AsOf = None, lang: Lang = None) -> Response[bytes]:
        return _pdf(*await documents.effect(principal_of(request), contract_id, as_of, lang))

    @get("/portfolio/effect.pdf", media_type=PDF,
         summary="The effect report of a commissioner's portfolio, PDF/A-3u: each contract it "
                 "commissions as GET /effect gives it, and the portfolio's liability forecast",
         description="For a commissioner, its own portfolio; an administrator names the "
                     "commissioner (`organisation_id`).")
    @on_replica
    async def portfolio_effect_pdf(
        self, request: Request,
        organisation_id: Annotated[UUID | None, QueryParameter(
            description="the commissioner whose portfolio (administrators)")] = None,
        as_of: AsOf = None, lang: Lang = None,
    ) -> Response[bytes]:
        return _pdf(*await documents.portfolio_effect(principal_of(request), organisation_id,
                                                      as_of, lang))
