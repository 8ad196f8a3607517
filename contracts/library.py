"""The outcome metric library, shared by all contracts.

A metric, once used on a rate card, is referred to by its code for as long as the contract
lives, so codes are unique and metrics are never edited in place.
"""

from __future__ import annotations

from contracts.errors import Conflict, Forbidden, Invalid, NotFound
from contracts.identity import Principal
from contracts.rules import check_metric
from contracts.schemas import MetricIn, MetricOut
from contracts.tables import Metric
from core.clock import now
from core.database import is_unique_violation
from core.ids import new_id


async def create_metric(principal: Principal | None, data: MetricIn) -> MetricOut:
    if principal is not None and principal.role not in ("commissioner", "admin"):
        raise Forbidden("only commissioners and administrators add metrics",
                        code="role_not_allowed")
    problems = check_metric(data)
    if problems:
        raise Invalid("the metric is not valid", code="invalid_metric", problems=problems)
    row = Metric(id=new_id(), created_at=now(),
                 **{f: getattr(data, f) for f in data.__struct_fields__})
    try:
        await row.save()
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(f"metric {data.code} exists", code="metric_code_taken") from exc
        raise
    return _out(row.to_dict())


async def list_metrics() -> list[MetricOut]:
    return [_out(r) for r in await Metric.select().order_by(Metric.code)]


async def get_metric(code: str) -> MetricOut:
    row = await Metric.select().where(Metric.code == code).first()
    if row is None:
        raise NotFound(f"no metric {code}", code="metric_not_found")
    return _out(row)


async def metrics_by_code(codes: set[str]) -> dict[str, MetricOut]:
    if not codes:
        return {}
    rows = await Metric.select().where(Metric.code.is_in(list(codes)))
    return {r["code"]: _out(r) for r in rows}


def _out(row: dict) -> MetricOut:
    return MetricOut(**{f: row[f] for f in MetricOut.__struct_fields__})
