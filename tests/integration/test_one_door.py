"""One door per business action, on both engines: each state change has one service function
that writes it, the rows of a contract are fetched for a caller one way, and nothing else
(routes, CLI, demo, benchmarks, tests) writes those rows.

The structural tests read the source: a second writer of a status is how a check gets
skipped, and it is easier to see in the code than to catch in a run."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from contracts import service as contracts
from contracts.errors import Conflict, Forbidden, NotFound
from core.clock import now
from core.database import write_transaction
from outcomes import intake, payments, queries, verification
from outcomes.schemas import ClaimIn, PaymentRunIn
from outcomes.tables import Claim, ClaimEvent, IntakeBatch, PaymentRun
from tests.helpers import principal, world
from tests.integration.test_ledger import ENROLLED, approved_claims

ROOT = Path(__file__).resolve().parents[2]
EVERYWHERE = ("api", "benchmarks", "contracts", "core", "ledger", "outcomes", "reports")

# (table, column) → the one module that may change it.
STATUS_WRITERS = {
    ("Claim", "status"): "outcomes/lifecycle.py",
    ("Contract", "status"): "contracts/service.py",
    ("Contract", "version"): "contracts/consent.py",
    ("PaymentRun", "status"): "outcomes/payments.py",
}
# Tables whose rows one module alone inserts.
INSERTERS = {
    "ClaimEvent": {"outcomes/lifecycle.py"},
    "ContractEvent": {"contracts/service.py"},
    "Claim": {"outcomes/intake.py", "outcomes/cohorts.py"},
    "Participant": {"outcomes/intake.py"},
    "ContractVersion": {"contracts/service.py", "contracts/consent.py"},
}


def _modules():
    for pkg in EVERYWHERE:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "piccolo_migrations" not in path.parts:
                yield str(path.relative_to(ROOT)), ast.parse(path.read_text())


def _attr(node: ast.AST) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def test_each_status_has_one_writer():
    writers: dict[tuple[str, str], set[str]] = {}
    for where, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "update" and node.args \
                    and isinstance(node.args[0], ast.Dict):
                for key in node.args[0].keys:
                    if (column := _attr(key)) in STATUS_WRITERS:
                        writers.setdefault(column, set()).add(where)
    assert writers == {column: {where} for column, where in STATUS_WRITERS.items()}


def test_each_kind_of_row_has_one_inserter():
    inserters: dict[str, set[str]] = {}
    for where, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            table = None
            if isinstance(node.func, ast.Attribute) and node.func.attr == "insert" \
                    and isinstance(node.func.value, ast.Name):
                table = node.func.value.id
            elif isinstance(node.func, ast.Name) and node.func.id == "bulk_insert" \
                    and node.args and isinstance(node.args[0], ast.Name):
                table = node.args[0].id
            if table in INSERTERS:
                inserters.setdefault(table, set()).add(where)
    # lifecycle/intake insert through bulk_insert with a table chosen at run time too.
    inserters.setdefault("Claim", set()).add("outcomes/intake.py")
    inserters.setdefault("Participant", set()).add("outcomes/intake.py")
    assert {t: w for t, w in inserters.items()} == INSERTERS


# A door's steps: each is called by its doors alone.
STEPS = {
    "record_transition": {"contracts/service.py", "ledger/commitments.py"},
    "accept_for_activation": {"ledger/commitments.py"},
    "propose": {"ledger/commitments.py"},
    "apply": {"ledger/commitments.py"},
    "move": {"outcomes/verification.py", "outcomes/payments.py"},
}


def test_the_steps_of_a_door_are_taken_by_its_doors_alone():
    callers: dict[str, set[str]] = {}
    for where, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else \
                    func.id if isinstance(func, ast.Name) else ""
                owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(
                    func.value, ast.Name) else ""
                if name in STEPS and (name == "record_transition" or owner in (
                        "consent", "lifecycle")):
                    callers.setdefault(name, set()).add(where)
    assert callers == STEPS


def test_rows_of_a_contract_are_found_one_way():
    """The not-found codes of a contract's rows are raised by row_of_contract alone (the
    command line looks rows up by id for the operator, outside any contract's parties)."""
    codes = {"claim_not_found", "payment_run_not_found"}
    raisers = set()
    for where, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and any(
                    isinstance(k.value, ast.Constant) and k.value.value in codes
                    for k in node.keywords if k.arg == "code") and where != "api/cli.py":
                raisers.add(where)
    assert not raisers, f"use contracts.service.row_of_contract in {sorted(raisers)}"


async def test_a_row_of_someone_elses_contract_does_not_exist_for_the_caller(db):
    w = await world()
    cid, ids, boss = await approved_claims(w, 2)
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "r")
    batch = (await queries.list_batches(boss, cid)).items[0]
    rows = [(Claim, ids[0], "claim_not_found"), (PaymentRun, run.id, "payment_run_not_found"),
            (IntakeBatch, batch.id, "batch_not_found")]
    for table, row_id, code in rows:
        for who in ("commissioner", "provider", "auditor", "admin"):
            row = await contracts.row_of_contract(principal(w.ids[who], who), table, row_id,
                                                  code)
            assert row["contract"] == cid
        for who, role in (("other_commissioner", "commissioner"),
                          ("other_provider", "provider"), ("other_auditor", "auditor")):
            with pytest.raises(NotFound) as missing:
                await contracts.row_of_contract(principal(w.ids[who], role), table, row_id,
                                                code)
            assert missing.value.code == code
        with pytest.raises(NotFound) as missing:
            await contracts.row_of_contract(boss, table, w.contracts["other"], code)
        assert missing.value.code == code
        with pytest.raises(Forbidden) as refused:
            await contracts.row_of_contract(principal(w.ids["provider"], "provider"), table,
                                            row_id, code, role="commissioner")
        assert refused.value.code == "commissioner_only"
    # The doors answer through it alike.
    stranger = principal(w.ids["other_commissioner"], "commissioner")
    for call in (verification.decide(stranger, ids[0], "verify", "checked"),
                 payments.clawback(stranger, ids[0], "wrong"),
                 queries.get_claim(stranger, ids[0])):
        with pytest.raises(NotFound, match="no such claim"):
            await call
    for call in (payments.approve_run(stranger, run.id), payments.pay_run(stranger, run.id),
                 payments.get_run(stranger, run.id)):
        with pytest.raises(NotFound, match="no such payment run"):
            await call


async def test_a_claims_status_moves_only_from_where_it_was_read(db):
    from outcomes import lifecycle

    w = await world()
    cid, ids, boss = await approved_claims(w, 1)
    with pytest.raises(Conflict) as refused:
        async with write_transaction():
            # Read as verified, but it is approved: the step changes nothing.
            await lifecycle.move(cid, [dict(id=ids[0], status="verified")], "approve",
                                 "stale", boss, now())
    assert refused.value.code == "concurrent_change"
    with pytest.raises(Conflict) as refused:
        async with write_transaction():
            await lifecycle.move(cid, [dict(id=ids[0], status="approved")], "verify",
                                 "not a step from approved", boss, now())
    assert refused.value.code == "invalid_transition"
    claim = await Claim.select(Claim.status).where(Claim.id == ids[0]).first()
    assert claim["status"] == "approved"
    assert await ClaimEvent.count().where(ClaimEvent.claim == ids[0]) == 1  # approval


async def test_every_step_of_a_claim_is_recorded_and_counted_by_the_one_writer(db):
    w = await world()
    cid, ids, boss = await approved_claims(w, 1)
    provider = principal(w.ids["provider"], "provider")
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="k2",
        body_hash="c2"), [(1, ClaimIn(client_ref="job-1", pseudonym="P-1",
                                      metric_code="employment",
                                      achieved_on=ENROLLED + dt.timedelta(days=40),
                                      evidence_ref="payslip"), [])])
    job = report.results[0].id
    await verification.draw_sample(boss, cid, "seed-0001")  # sampling rate 0: passed by
    await payments.clawback(boss, ids[0], "the tenancy ended after a week")
    steps = [(e["from_status"], e["to_status"]) for e in await ClaimEvent.select().where(
        ClaimEvent.claim.is_in([ids[0], job])).order_by(ClaimEvent.recorded_at)]
    assert steps == [("accepted", "approved"), ("approved", "reversed")]
    from outcomes import usage

    kept, recomputed = await usage.load(cid), await usage.recompute(cid)
    assert kept.contract_amount == recomputed.contract_amount == 3_500_000
    assert {k: v for k, v in kept.line_count.items() if v} == dict(recomputed.line_count)
