"""Who gets which document: the doors of the statement and the remittance.

A statement is for the contract's parties (and administrators), for a period that
`reports.rules.statement_period` allows; a remittance for the parties of a paid payment
run's contract. Both are rendered by `reports.pool` in worker processes, their money in the
language asked for or the contract's (`reports.formats`).
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from contracts import service as contracts
from contracts.errors import Conflict
from contracts.identity import Principal
from contracts.schemas import ContractTerms
from contracts.tables import Contract
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
    """The statement's PDF and its file name."""
    row, _ = await contracts.relation(principal, contract_id)
    terms = await contracts.current_terms(contract_id, row["version"])
    start, end = statement_period(terms, period_from, period_to)
    body = await pool.run(pool.statement_job, engine_url(piccolo_conf_engine()), contract_id,
                          start, end, lang=lang)
    return body, f"statement-{row['reference']}-{start}-{end}.pdf"


async def remittance(principal: Principal, run_id: UUID, lang: str | None = None
                     ) -> tuple[bytes, str]:
    """The remittance's PDF and its file name; a run has one once it is paid."""
    run = await payments.get_run(principal, run_id)
    if run.status != "paid":
        raise Conflict("a remittance is made once the run is paid", code="run_not_paid")
    row = await Contract.select(Contract.reference).where(
        Contract.id == run.contract_id).first()
    body = await pool.run(pool.remittance_job, engine_url(piccolo_conf_engine()), run_id,
                          lang=lang)
    return body, f"remittance-{row['reference']}-{run_id}.pdf"
