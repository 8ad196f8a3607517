"""The metric library and outcome contracts."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.auth import AUDITOR_MAY_WRITE, principal_of
from contracts import consent, library, service
from contracts.errors import Invalid
from contracts.schemas import (
    AcceptanceIn,
    AcceptanceOut,
    ContractEventOut,
    ContractIn,
    ContractOut,
    ContractStatus,
    ContractVersionOut,
    CountedPage,
    MetricIn,
    MetricOut,
    ProposalOut,
    TransitionIn,
    VariationIn,
)
from ledger import commitments


class MetricController(Controller):
    path = "/api/v1/metrics"
    tags = ["metric library"]

    @get("/", summary="The outcome metric library")
    async def index(self) -> list[MetricOut]:
        return await library.list_metrics()

    @get("/{code:str}", summary="One metric")
    async def show(self, code: FromPath[str]) -> MetricOut:
        return await library.get_metric(code)

    @post("/", summary="Add a metric (commissioners, administrators)")
    async def create(self, request: Request, data: JSONBody[MetricIn]) -> MetricOut:
        return await library.create_metric(principal_of(request), data)


def parse_cursor(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise Invalid("the cursor is not one Virker gave out", code="invalid_cursor") from None


class ContractController(Controller):
    path = "/api/v1/contracts"
    tags = ["contracts"]

    @get("/", summary="Contracts you deliver, commission or audit",
         description="`count=true` adds `total`, the number of contracts that match.")
    async def index(
        self,
        request: Request,
        status: FromQuery[ContractStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        count: FromQuery[bool] = False,
    ) -> CountedPage[ContractOut]:
        return await service.list_contracts(principal_of(request), status=status,
                                            cursor=parse_cursor(cursor), limit=limit,
                                            count=count)

    @post("/", summary="Create a draft contract (commissioners)")
    async def create(self, request: Request, data: JSONBody[ContractIn]) -> ContractOut:
        return await service.create_contract(principal_of(request), data)

    @get("/{contract_id:uuid}", summary="One contract with its current terms")
    async def show(self, request: Request, contract_id: FromPath[UUID]) -> ContractOut:
        return await service.get_contract(principal_of(request), contract_id)

    @get("/{contract_id:uuid}/variations", summary="Every version of the terms, with reasons")
    async def versions(self, request: Request, contract_id: FromPath[UUID]
                       ) -> list[ContractVersionOut]:
        return await service.list_versions(principal_of(request), contract_id)

    @post("/{contract_id:uuid}/variations",
          summary="Propose a variation: 201 applied at once, 202 awaiting acceptances",
          description="A variation that changes a commissioner's share, or the cap, rates, "
                      "periods or sampling of an active contract, needs the acceptance of "
                      "every commissioner it affects; removing an auditor needs the "
                      "auditor's acknowledgement. `effective_on` (default today) may be "
                      "neither before today nor within a paid period.",
          responses={202: ResponseSpec(data_container=ProposalOut,
                                       description="Recorded; awaiting acceptances")})
    async def vary(self, request: Request, contract_id: FromPath[UUID], data: JSONBody[VariationIn]
                   ) -> Response[ProposalOut]:
        out = await commitments.vary(principal_of(request), contract_id, data)
        return Response(out, status_code=201 if out.status == "applied" else 202)

    @get("/{contract_id:uuid}/proposals", summary="Proposed variations and who accepted them")
    async def proposals(self, request: Request, contract_id: FromPath[UUID]
                        ) -> list[ProposalOut]:
        return await consent.list_proposals(principal_of(request), contract_id)

    @get("/{contract_id:uuid}/proposals/{proposal_id:uuid}", summary="One proposed variation")
    async def proposal(self, request: Request, contract_id: FromPath[UUID],
                       proposal_id: FromPath[UUID]) -> ProposalOut:
        return await consent.get_proposal(principal_of(request), contract_id, proposal_id)

    @post("/{contract_id:uuid}/proposals/{proposal_id:uuid}/accept", status_code=200,
          opt={AUDITOR_MAY_WRITE: True},
          summary="Accept a proposed variation for your organisation",
          description="Commissioners and auditors the proposal awaits accept for their own "
                      "organisation; an administrator may acknowledge an auditor's removal. "
                      "The last acceptance needed applies the variation.")
    async def accept(self, request: Request, contract_id: FromPath[UUID],
                     proposal_id: FromPath[UUID]) -> ProposalOut:
        return await commitments.accept(principal_of(request), contract_id, proposal_id)

    @post("/{contract_id:uuid}/proposals/{proposal_id:uuid}/withdraw", status_code=200,
          summary="Withdraw a pending variation your organisation proposed")
    async def withdraw(self, request: Request, contract_id: FromPath[UUID],
                       proposal_id: FromPath[UUID]) -> ProposalOut:
        return await consent.withdraw(principal_of(request), contract_id, proposal_id)

    @get("/{contract_id:uuid}/acceptances", summary="Every recorded acceptance: who and when")
    async def acceptances(self, request: Request, contract_id: FromPath[UUID]
                          ) -> list[AcceptanceOut]:
        return await consent.list_acceptances(principal_of(request), contract_id)

    @post("/{contract_id:uuid}/acceptances",
          summary="Accept a draft's terms (the version named) for your organisation",
          description="A contract with several commissioners activates only when each has "
                      "accepted its current version.")
    async def accept_terms(self, request: Request, contract_id: FromPath[UUID],
                           data: JSONBody[AcceptanceIn]) -> AcceptanceOut:
        return await consent.accept_version(principal_of(request), contract_id, data.version)

    @get("/{contract_id:uuid}/events", summary="Status history")
    async def events(self, request: Request, contract_id: FromPath[UUID]
                     ) -> list[ContractEventOut]:
        return await service.list_events(principal_of(request), contract_id)

    @post("/{contract_id:uuid}/activate", status_code=200,
          summary="Activate a draft: the terms become binding",
          description="Records your organisation's acceptance of the current version; "
                      "409 `acceptance_missing` until every commissioner has accepted it.")
    async def activate(self, request: Request, contract_id: FromPath[UUID],
                       data: JSONBody[TransitionIn | None] = None) -> ContractOut:
        # Activation commits the commissioners' funds in the journal: its own door.
        return await commitments.activate(principal_of(request), contract_id,
                                          data.reason if data else "")

    @post("/{contract_id:uuid}/suspend", status_code=200, summary="Suspend an active contract")
    async def suspend(self, request: Request, contract_id: FromPath[UUID],
                      data: JSONBody[TransitionIn | None] = None) -> ContractOut:
        return await _transition(request, contract_id, "suspend", data)

    @post("/{contract_id:uuid}/resume", status_code=200, summary="Resume a suspended contract")
    async def resume(self, request: Request, contract_id: FromPath[UUID],
                     data: JSONBody[TransitionIn | None] = None) -> ContractOut:
        return await _transition(request, contract_id, "resume", data)

    @post("/{contract_id:uuid}/close", status_code=200, summary="Close a contract for good")
    async def close(self, request: Request, contract_id: FromPath[UUID],
                    data: JSONBody[TransitionIn | None] = None) -> ContractOut:
        return await _transition(request, contract_id, "close", data)


async def _transition(request: Request, contract_id: UUID,
                      action: Literal["suspend", "resume", "close"],
                      data: TransitionIn | None) -> ContractOut:
    return await service.transition(principal_of(request), contract_id, action,
                                    data.reason if data else "")
