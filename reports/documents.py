"""Who gets which document: the doors of the statement, the remittance and the effect
reports.

A statement is for the contract's parties (and administrators), for a period that
`reports.rules.statement_period` allows; a remittance for the parties of a paid payment
run's contract (a partner of a partnership gets its part of both: the claims and batches
of its own participants, `contracts.service.provider_scope`); a contract's effect report
for its parties, a portfolio's for the commissioner whose portfolio it is (administrators
name one). All are rendered by `reports.pool` in worker processes, their money in the
language asked for or the contract's (`reports.formats`).
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from contracts import service as contracts
from contracts.errors import Conflict, Forbidden, Invalid, Problem
from contracts.identity import Principal
from contracts.schemas import ContractTerms
from core.clock import now
from core.database import engine_url, piccolo_conf_engine
from outcomes import payments
from reports import pool, rules


def statement_period(terms: ContractTerms, period_from: dt.date | None,
                     period_to: dt.date | None) -> tuple[dt.date, dt.date]:
    """The period a statement of a contract with `terms` covers, asked for today (UTC)."""
    return rules.statement_period(terms.service_period.start, period_from, period_to,
                                  today=now().date())


async def statement(principal: Principal, contract_id: UUID, period_from: dt.date | None,
                    period_to: dt.date | None, lang: str | None = None) -> tuple[bytes, str]:
    """The statement's PDF and its file name. A partner of a partnership gets its part:
    the claims and batches of the participants it enrolled, beside the contract's whole
    journal (`reports.assembly.assemble`'s `scope`)."""
    row, scope = await contracts.scope_of(principal, contract_id)
    terms = await contracts.current_terms(contract_id, row["version"])
    start, end = statement_period(terms, period_from, period_to)
    body = await pool.run(pool.statement_job, engine_url(piccolo_conf_engine()), contract_id,
                          start, end, lang=lang, scope=scope)
    return body, f"statement-{row['reference']}-{start}-{end}.pdf"


async def remittance(principal: Principal, run_id: UUID, lang: str | None = None
                     ) -> tuple[bytes, str]:
    """The remittance's PDF and its file name; a run has one once it is paid. A partner of
    a partnership gets the run's claims of its own participants, beside the run's totals
    and what each provider is owed (`reports.remittance.remittance`'s `scope`)."""
    run = await payments.get_run(principal, run_id)
    if run.status != "paid":
        raise Conflict("a remittance is made once the run is paid", code="run_not_paid")
    row, scope = await contracts.scope_of(principal, run.contract_id)
    body = await pool.run(pool.remittance_job, engine_url(piccolo_conf_engine()), run_id,
                          lang=lang, scope=scope)
    return body, f"remittance-{row['reference']}-{run_id}.pdf"


async def effect(principal: Principal, contract_id: UUID, as_of: dt.date | None = None,
                 lang: str | None = None) -> tuple[bytes, str]:
    """A contract's effect report (PDF) and its file name: the figures its reader gets
    from GET /effect, as of `as_of` (today, UTC, by default)."""
    row, _ = await contracts.relation(principal, contract_id)
    as_of = as_of or now().date()
    body = await pool.run(pool.effect_job, engine_url(piccolo_conf_engine()), principal,
                          contract_id, as_of, lang=lang)
    return body, f"effect-{row['reference']}-{as_of}.pdf"


def portfolio_owner(principal: Principal, organisation_id: UUID | None) -> UUID:
    """Whose portfolio `principal` may have a report of: a commissioner its own, an
    administrator the one it names; nobody else one at all."""
    if principal.is_admin:
        if organisation_id is None:
            raise Invalid("name the commissioner", code="invalid_field", problems=[Problem(
                code="invalid_field", field="organisation_id",
                message="an administrator names the commissioner whose portfolio to report")])
        return organisation_id
    if principal.role != "commissioner":
        raise Forbidden("a portfolio's effect report is for its commissioner; providers and "
                        "auditors ask for a contract's", code="commissioner_only")
    if organisation_id not in (None, principal.organisation_id):
        raise Forbidden("a commissioner sees its own portfolio", code="not_your_organisation")
    return principal.organisation_id


async def portfolio_effect(principal: Principal, organisation_id: UUID | None = None,
                           as_of: dt.date | None = None, lang: str | None = None
                           ) -> tuple[bytes, str]:
    """The effect report of a commissioner's portfolio (PDF) and its file name."""
    owner = portfolio_owner(principal, organisation_id)
    as_of = as_of or now().date()
    body = await pool.run(pool.portfolio_effect_job, engine_url(piccolo_conf_engine()),
                          principal, owner, as_of, lang=lang)
    return body, f"effect-portfolio-{owner}-{as_of}.pdf"
