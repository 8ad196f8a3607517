"""Balances, payment runs, clawbacks and the journal check."""

from __future__ import annotations

import datetime as dt
import hashlib
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from api.auth import idempotency_key, principal_of
from contracts import service as contracts
from contracts.errors import Forbidden, NotFound
from contracts.identity import Principal
from core.clock import now
from ledger.balances import ContractBalance, contract_balance, organisation_balances
from ledger.verify import Mismatch, VerifyReport, engine_dsn, verify
from outcomes import payments, queries
from outcomes.schemas import ClaimDetail, DecisionIn, PaymentRunIn, PaymentRunOut


class OrganisationBalance(msgspec.Struct, kw_only=True):
    organisation_id: UUID
    on: dt.date
    balances: dict[str, dict[str, int]]


class AuditedContract(msgspec.Struct, kw_only=True):
    """A contract the calling auditor is assigned to, with its balance today."""

    contract_id: UUID
    reference: str
    balance: ContractBalance


class AuditorVerifyReport(msgspec.Struct, kw_only=True):
    """The journal check as an auditor sees it: whether the whole chain holds, but amounts
    only for the contracts it audits (the whole-ledger totals are the operator's)."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_mismatch: Mismatch | None = None
    contracts: list[AuditedContract] = []


async def _audited(principal: Principal) -> list[AuditedContract]:
    """The contracts `principal` is a party to, as contracts.service lists them."""
    today, out, cursor = now().date(), [], None
    while True:
        page = await contracts.list_contracts(principal, cursor=cursor, limit=200)
        for c in page.items:
            out.append(AuditedContract(contract_id=c.id, reference=c.reference,
                                       balance=await contract_balance(c.id, c.currency,
                                                                      today)))
        if page.next_cursor is None:
            return out
        cursor = UUID(page.next_cursor)


class LedgerController(Controller):
    path = "/api/v1"
    tags = ["ledger"]

    @get("/contracts/{contract_id:uuid}/balance",
         summary="Committed, accrued, paid, clawed back and remaining, at a date")
    async def balance(self, request: Request, contract_id: FromPath[UUID],
                      on: FromQuery[dt.date | None] = None) -> ContractBalance:
        row, _ = await contracts.relation(principal_of(request), contract_id)
        return await contract_balance(contract_id, row["currency"], on or now().date())

    @get("/organisations/{org_id:uuid}/balance",
         summary="An organisation's balances per account, at a date (debits positive)")
    async def organisation_balance(self, request: Request, org_id: FromPath[UUID],
                                   on: FromQuery[dt.date | None] = None
                                   ) -> OrganisationBalance:
        principal = principal_of(request)
        if not principal.is_admin and principal.organisation_id != org_id:
            raise NotFound("no such organisation", code="organisation_not_found")
        day = on or now().date()
        balances: dict[str, dict[str, int]] = {}
        for (code, currency), amount in (await organisation_balances(org_id, day)).items():
            balances.setdefault(currency, {})[code] = amount
        return OrganisationBalance(organisation_id=org_id, on=day, balances=balances)

    @get("/ledger/verify", summary="Recompute the hash chain and balances (auditors)",
         description="An administrator gets the whole report, totals included. An auditor "
                     "gets whether the chain holds, and the balances of the contracts it "
                     "audits, nothing else.")
    async def verify(self, request: Request) -> VerifyReport | AuditorVerifyReport:
        principal = principal_of(request)
        if principal.role not in ("auditor", "admin"):
            raise Forbidden("the journal check is for auditors", code="auditor_only")
        report = await verify(engine_dsn())
        if principal.is_admin:
            return report
        return AuditorVerifyReport(
            ok=report.ok, entries=report.entries, head_seq=report.head_seq,
            head_hash=report.head_hash, first_mismatch=report.first_mismatch,
            contracts=await _audited(principal))

    @post("/contracts/{contract_id:uuid}/payment-runs",
          summary="Draft a payment run of the approved, unpaid claims achieved in a period")
    async def create_run(self, request: Request, contract_id: FromPath[UUID],
                         data: JSONBody[PaymentRunIn]) -> Response[PaymentRunOut]:
        key = idempotency_key(request)
        digest = hashlib.sha256(msgspec.json.encode(data)).hexdigest()
        run, replayed = await payments.create_run(principal_of(request), contract_id, data,
                                                  key, digest)
        return Response(run, status_code=200 if replayed else 201)

    @get("/contracts/{contract_id:uuid}/payment-runs", summary="The contract's payment runs")
    async def runs(self, request: Request, contract_id: FromPath[UUID]
                   ) -> list[PaymentRunOut]:
        return await payments.list_runs(principal_of(request), contract_id)

    @get("/payment-runs/{run_id:uuid}", summary="One payment run")
    async def run(self, request: Request, run_id: FromPath[UUID]) -> PaymentRunOut:
        return await payments.get_run(principal_of(request), run_id)

    @get("/payment-runs/{run_id:uuid}/claims", summary="The claims a payment run pays")
    async def run_claims(self, request: Request, run_id: FromPath[UUID]) -> list[UUID]:
        return await payments.run_claims(principal_of(request), run_id)

    @post("/payment-runs/{run_id:uuid}/approve", status_code=200,
          summary="Approve a draft payment run")
    async def approve_run(self, request: Request, run_id: FromPath[UUID]) -> PaymentRunOut:
        return await payments.approve_run(principal_of(request), run_id)

    @post("/payment-runs/{run_id:uuid}/pay", status_code=200,
          summary="Pay an approved run: books one payment per claim, never twice")
    async def pay_run(self, request: Request, run_id: FromPath[UUID]) -> PaymentRunOut:
        return await payments.pay_run(principal_of(request), run_id)

    @post("/claims/{claim_id:uuid}/clawback", status_code=200,
          summary="Claw back an approved or paid claim with a reversing entry")
    async def clawback(self, request: Request, claim_id: FromPath[UUID],
                       data: JSONBody[DecisionIn]) -> ClaimDetail:
        await payments.clawback(principal_of(request), claim_id, data.reason)
        return await queries.get_claim(principal_of(request), claim_id)
