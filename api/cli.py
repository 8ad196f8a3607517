"""The `virker` command: serve, migrate, demo data and the first organisations, users and keys.

Scriptable: commands print what a script needs (an id, a key) alone on standard output and
everything else on standard error; errors exit non-zero with a one-line message.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from contracts import directory
from contracts.errors import DomainError
from contracts.schemas import ApiKeyIn, OrganisationIn, UserIn
from core.database import bind, make_engine, migrate
from core.settings import SettingsError, get_settings

T = TypeVar("T")


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Bind the configured database and run one async job, turning errors into messages."""
    bind(make_engine(get_settings().database_url))
    try:
        return asyncio.run(coro_fn())
    except DomainError as exc:
        details = "".join(f"\n  {p.field}: {p.message}" for p in exc.problems)
        raise click.ClickException(f"{exc.message} [{exc.code}]{details}") from None
    except msgspec.ValidationError as exc:
        raise click.ClickException(str(exc)) from None


def _struct(cls: type[T], **fields: Any) -> T:
    try:
        return msgspec.convert({k: v for k, v in fields.items() if v is not None}, cls)
    except msgspec.ValidationError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Virker: outcome-based funding and commissioning ledger.

    The database is VIRKER_DATABASE_URL (default: SQLite in ./var/virker.sqlite).
    """
    try:
        get_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default=None, help="Address to listen on [127.0.0.1]")
@click.option("--port", default=None, type=int, help="Port to listen on [8000]")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Worker processes (PostgreSQL only; SQLite has one writer)")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the web UI and the API."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers, proxy_headers=True)


@main.command("migrate")
def migrate_cmd() -> None:
    """Bring the database schema up to date (safe to run again)."""
    for line in run(migrate):
        click.echo(line, err=True)
    click.echo("schema up to date", err=True)


@main.command()
def demo() -> None:
    """Load the demo data (only into an empty database) and print logins and API keys."""
    from api.demo import load_demo

    click.echo(run(load_demo))


@main.command("create-org")
@click.option("--name", required=True, help="e.g. 'Roskilde Kommune'")
@click.option("--kind", required=True,
              help="municipality, region, outcome_fund, foundation, ministry, ngo, "
                   "social_enterprise, municipal_unit, company, audit_firm or operator")
@click.option("--identifier", required=True, help="org-id style, e.g. DK-CVR-29189846")
def create_org(name: str, kind: str, identifier: str) -> None:
    """Register an organisation; prints its id."""
    data = _struct(OrganisationIn, name=name, kind=kind, identifier=identifier)
    org = run(functools.partial(directory.create_organisation, None, data))
    click.echo(str(org.id))


@main.command("create-user")
@click.option("--org", "org_ref", required=True, help="organisation id or identifier")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", required=True, type=click.Choice(
    ["commissioner", "provider", "auditor", "admin"]))
@click.option("--password", envvar="VIRKER_PASSWORD", prompt=True, hide_input=True,
              confirmation_prompt=True, help="or VIRKER_PASSWORD; prompted for if absent")
def create_user(org_ref: str, email: str, display_name: str, role: str, password: str) -> None:
    """Create a user who signs in to the web UI; prints the user's id."""

    async def job() -> Any:
        org = await directory.find_organisation(org_ref)
        data = _struct(UserIn, organisation_id=str(org.id), email=email,
                       display_name=display_name, role=role, password=password)
        return await directory.create_user(None, data)

    click.echo(str(run(job).id))


@main.command("create-api-key")
@click.option("--org", "org_ref", required=True, help="organisation id or identifier")
@click.option("--label", default="command line", show_default=True)
@click.option("--role", default=None, type=click.Choice(
    ["commissioner", "provider", "auditor", "admin"]),
    help="default: from the organisation's kind")
def create_api_key(org_ref: str, label: str, role: str | None) -> None:
    """Create an API key; prints the key alone (it is not shown again)."""

    async def job() -> Any:
        org = await directory.find_organisation(org_ref)
        data = _struct(ApiKeyIn, organisation_id=str(org.id), label=label, role=role)
        return await directory.create_api_key(None, data)

    click.echo(run(job).key)


@main.command()
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/ledger-signing.key"), show_default=True,
              envvar="VIRKER_CHECKPOINT_KEY",
              help="Ed25519 private key (PEM); created on first use. Keep it off the database "
                   "server.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="write the signed checkpoint here (default: standard output)")
def checkpoint(key_path: Path, output: Path | None) -> None:
    """Verify the whole journal and sign its head: sequence number, hash and the balance of
    every account. Prints the public key to keep beside it on standard error."""
    from ledger import checkpoints
    from ledger.verify import engine_dsn

    async def job() -> Any:
        return await checkpoints.create(key_path, engine_dsn())

    try:
        signed, report = run(job)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    text = msgspec.json.format(msgspec.json.encode(signed), indent=2).decode()
    if output:
        output.write_text(text + "\n")
        click.echo(f"checkpoint at entry {report.head_seq} written to {output}", err=True)
    else:
        click.echo(text)
    click.echo(f"public key: {signed.public_key}", err=True)


@main.command("verify-ledger")
@click.option("--checkpoint", "checkpoint_file",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a signed checkpoint the journal must still lead to")
@click.option("--public-key", default=None,
              help="the public key you trust (64 hex digits, or a file holding them or a PEM "
                   "public key); default VIRKER_CHECKPOINT_PUBLIC_KEY, else the public half "
                   "of the signing key (VIRKER_CHECKPOINT_KEY). Never the key in the "
                   "checkpoint file.")
def verify_ledger(checkpoint_file: Path | None, public_key: str | None) -> None:
    """Rebuild every entry's bytes from the raw rows, recompute the hash chain and every
    account's balance; exit 1 naming the first entry, posting or account that does not
    match. docs/ledger.md says what a success proves."""
    from ledger import checkpoints
    from ledger.verify import engine_dsn, verify

    signed, trusted = None, None
    if checkpoint_file:
        try:
            signed = msgspec.json.decode(checkpoint_file.read_bytes(),
                                         type=checkpoints.SignedCheckpoint)
            trusted = checkpoints.trusted_key(public_key)
        except (msgspec.DecodeError, checkpoints.UntrustedKey) as exc:
            raise click.ClickException(str(exc)) from None

    async def job() -> Any:
        dsn = engine_dsn()
        if signed is not None and trusted is not None:
            return None, await checkpoints.check(signed, dsn, trusted)
        return await verify(dsn), None

    report, result = run(job)
    if result is not None:
        if not result.ok:
            raise click.ClickException(f"checkpoint: {result.problem}")
        click.echo(f"ok: the journal verifies and leads to the checkpoint at entry "
                   f"{result.seq}")
        return
    if report.first_mismatch is not None:
        m = report.first_mismatch
        raise click.ClickException(f"entry {m.seq} ({m.entry_id}): {m.problem}")
    if not report.ok:
        raise click.ClickException(f"the trial balance is not zero: {report.trial_balance}")
    click.echo(f"ok: {report.entries} entries, head {report.head_seq} {report.head_hash}")


async def _contract_of(ref: str) -> tuple[Any, Any]:
    from uuid import UUID

    from contracts.errors import NotFound
    from contracts.service import current_terms
    from contracts.tables import Contract

    try:
        where = Contract.id == UUID(ref)
    except ValueError:
        where = Contract.reference == ref
    row = await Contract.select().where(where).first()
    if row is None:
        raise NotFound(f"no contract {ref}", code="contract_not_found")
    return row, await current_terms(row["id"], row["version"])


@main.command()
@click.argument("contract")
@click.option("--from", "period_from", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="first day of the period (default: start of the service period)")
@click.option("--to", "period_to", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="last day of the period (default: today)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="PDF file to write")
def statement(contract: str, period_from: Any, period_to: Any, output: Path) -> None:
    """Write the auditor's statement of CONTRACT (id or reference) for a period as
    PDF/A-3u, with the claim list and the journal entries attached."""
    from reports.assembly import assemble
    from reports.documents import statement_period
    from reports.render import statement_pdf

    async def job() -> Any:
        row, terms = await _contract_of(contract)
        start, end = statement_period(terms, period_from and period_from.date(),
                                      period_to and period_to.date())
        return await assemble(row["id"], start, end)

    data = run(job)
    output.write_bytes(statement_pdf(data))
    click.echo(f"{output}: {data.reference} {data.period_from} to {data.period_to}, "
               f"{data.totals.received} claims received, closing payable "
               f"{data.closing.payable} {data.currency} minor units", err=True)


@main.command()
@click.argument("run_id", type=click.UUID)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="PDF file to write")
def remittance(run_id: Any, output: Path) -> None:
    """Write the remittance statement of a paid payment run as PDF/A-3u."""
    from contracts.errors import Conflict, NotFound
    from outcomes.tables import PaymentRun
    from reports.remittance import remittance as assemble_remittance
    from reports.render import remittance_pdf

    async def job() -> Any:
        row = await PaymentRun.select(PaymentRun.status).where(PaymentRun.id == run_id).first()
        if row is None:
            raise NotFound("no such payment run", code="payment_run_not_found")
        if row["status"] != "paid":
            raise Conflict("a remittance is made once the run is paid", code="run_not_paid")
        return await assemble_remittance(run_id)

    output.write_bytes(remittance_pdf(run(job)))
    click.echo(str(output), err=True)


@main.command("evaluate-cohort")
@click.argument("contract")
@click.argument("line")
@click.option("--as", "as_org", default=None,
              help="the commissioner to act for (id or identifier; default: the contract's "
                   "first commissioner)")
def evaluate_cohort(contract: str, line: str, as_org: str | None) -> None:
    """Evaluate cohort LINE of CONTRACT (id or reference) for a commissioner and pay the
    cohort if it reached its threshold; prints the evaluation as JSON. Asking again prints
    the evaluation made before and changes nothing."""
    from contracts.identity import Principal
    from outcomes.cohorts import evaluate

    async def job() -> Any:
        row, terms = await _contract_of(contract)
        org = (await directory.find_organisation(as_org)).id if as_org else \
            terms.commissioners[0].organisation_id
        acting = Principal(organisation_id=org, role="commissioner", label="cli")
        return await evaluate(acting, row["id"], line)

    evaluation, made = run(job)
    click.echo(msgspec.json.format(msgspec.json.encode(evaluation), indent=2).decode())
    state = ("reached" if evaluation.reached else "not reached") + \
        ("" if made else "; evaluated before, nothing changed")
    click.echo(f"{evaluation.line_code}: {evaluation.achieved} of {evaluation.n} "
               f"({evaluation.rate_bp / 100:.2f} %), {state}", err=True)


def _operator() -> Any:
    """The command line reads as an administrator: the operator has the database anyway."""
    from uuid import UUID

    from contracts.identity import Principal

    return Principal(organisation_id=UUID(int=0), role="admin", label="cli")


_LANG = click.Choice(["da", "nb", "en"])


@main.command()
@click.argument("contract")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="the day the figures are for (default: today, UTC)")
@click.option("--pdf", "pdf_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="write the effect report (PDF/A-3u) here instead")
@click.option("--json", "as_json", is_flag=True, help="print the figures as the API's JSON")
@click.option("--lang", type=_LANG, default=None,
              help="language of numbers and money (default: the contract's)")
def effect(contract: str, as_of: Any, pdf_file: Path | None, as_json: bool,
           lang: str | None) -> None:
    """Print the effect figures of CONTRACT (id or reference), a table per line: rate with
    its 95 % interval, target and progress, uplift against the baseline, costs."""
    from effect.service import contract_effect
    from reports import effect as documents
    from reports.formats import document_lang

    day = as_of and as_of.date()

    async def job() -> Any:
        row, _ = await _contract_of(contract)
        if pdf_file:
            return await documents.contract_report(_operator(), row["id"], as_of=day,
                                                   lang=lang)
        return await contract_effect(_operator(), row["id"], as_of=day)

    data = run(job)
    if pdf_file:
        pdf_file.write_bytes(documents.report_pdf(data))
        click.echo(f"{pdf_file}: effect of {data.subject} as of {data.as_of}", err=True)
    elif as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(data), indent=2).decode())
    else:
        click.echo(documents.effect_text(data, document_lang(data.currency, (), lang)))


@main.command()
@click.argument("subject", metavar="METRIC_OR_CATEGORY")
@click.option("--shift", default=0.10, show_default=True, type=float,
              help="share of a reviewed contract's volume to move (0.05 to 0.10)")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="the day the figures are for (default: today, UTC)")
@click.option("--json", "as_json", is_flag=True, help="print the advice as the API's JSON")
@click.option("--lang", type=_LANG, default=None,
              help="language of numbers and money (default: the contracts' currency's)")
def advise(subject: str, shift: float, as_of: Any, as_json: bool, lang: str | None) -> None:
    """Print the allocation advice for a metric or category: per contract, by reference and
    never by performance, its band, the evidence, the volume change and repricing."""
    from effect.service import advise as advice_for
    from reports.effect import advice_text

    data = run(functools.partial(advice_for, _operator(), subject, shift_share=shift,
                                 as_of=as_of and as_of.date()))
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(data), indent=2).decode())
    else:
        click.echo(advice_text(data, lang))


@main.command("voice-retention")
def voice_retention() -> None:
    """Delete the comments of survey waves whose retention period has run out (the scores
    stay); prints how many were deleted. Run it daily; the server also runs it as it
    starts."""
    from voice.service import apply_retention

    removed = run(apply_retention)
    click.echo(str(removed))
    click.echo(f"{removed} comment{'' if removed == 1 else 's'} past retention deleted",
               err=True)


@main.command("import-rates")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_rates(file: Path) -> None:
    """Load the ECB's euro reference rates from FILE (eurofxref.csv, eurofxref-hist.csv or
    the .zip the ECB serves), for prices in other currencies; a rate already on record is
    kept, so loading a file again adds nothing. Prints how many rates were added."""
    from opendata.rates import import_rates as load

    report = run(functools.partial(load, file))
    click.echo(str(report.added))
    span = f", {report.first_on} to {report.last_on}" if report.first_on else ""
    click.echo(f"{file.name}: {report.days} days, {len(report.currencies)} currencies"
               f"{span}; {report.added} rates added, {report.already_on_record} already on "
               f"record, {report.not_quoted} cells not quoted (N/A)", err=True)
    for line in report.differing:
        click.echo(f"kept the rate on record: {line}", err=True)


@main.command("import-indigo")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
def import_indigo(path: Path, as_json: bool) -> None:
    """Load outcome contracts from elsewhere into the reference library: PATH is the INDIGO
    dataset's folder of CSVs, or INDIGO 4.1 project JSON (a file or a folder of files).
    Projects already loaded and unchanged are left alone, so loading again changes nothing.
    Prints what was read, loaded and skipped, and why."""
    from opendata.indigo import import_indigo as load
    from opendata.indigo import report_text

    report = run(functools.partial(load, path))
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(report), indent=2).decode())
    else:
        click.echo(report_text(report))


@main.command("export-beancount")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="file to write (default: standard output)")
def export_beancount(output: Path | None) -> None:
    """Write the journal in Beancount syntax (check it with bean-check)."""
    from ledger.export import beancount

    async def job() -> str:
        return "".join([chunk async for chunk in beancount()])

    text = run(job)
    if output:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


def _open_data(fmt: str, contract: str | None, all_public: bool, out: Path | None,
               validate: bool) -> None:
    """Write the public contracts (or one) as `fmt`; with `validate`, check the export
    against the standard's schemas first and write nothing if it fails."""
    from opendata.exports import encode, public_export

    if bool(contract) == all_public:
        raise click.UsageError("name one contract (--contract REF_OR_ID) or ask for "
                               "--all-public")

    async def job() -> dict:
        contract_id = None
        if contract:
            row, _ = await _contract_of(contract)
            contract_id = row["id"]
        return await public_export(fmt, contract_id, unknown_as_missing=False)

    document = run(job)
    data = encode(document)
    if validate:
        import json

        from opendata.validate import VALIDATORS, SchemasMissing

        try:
            problems = VALIDATORS[fmt](json.loads(data))
        except SchemasMissing as exc:
            raise click.ClickException(str(exc)) from None
        if problems:
            for problem in problems:
                click.echo(str(problem), err=True)
            raise click.ClickException(f"the {fmt} export does not validate: "
                                       f"{len(problems)} problems")
    if out:
        out.write_bytes(data + b"\n")
        click.echo(f"{out}: {fmt} export written" + (", valid" if validate else ""), err=True)
    else:
        click.echo(data.decode())


def _open_data_options(fn: Callable[..., None]) -> Callable[..., None]:
    for option in reversed([
        click.option("--contract", default=None, metavar="REF_OR_ID",
                     help="one published contract, by reference or id"),
        click.option("--all-public", is_flag=True,
                     help="every contract whose `contract` part is public"),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="file to write (default: standard output)"),
        click.option("--validate", is_flag=True,
                     help="check the export against the standard's JSON Schemas "
                          "(../shared/reference/schemas or VIRKER_SCHEMAS; needs jsonschema)"
                          " and exit 1 with the problems if it does not validate"),
    ]):
        fn = option(fn)
    return fn


@main.command("export-ocds")
@_open_data_options
def export_ocds(contract: str | None, all_public: bool, out: Path | None,
                validate: bool) -> None:
    """Write published contracts as an OCDS 1.1 release package with the metrics extension
    (public parts only; results suppressed below k)."""
    _open_data("ocds", contract, all_public, out, validate)


@main.command("export-indigo")
@_open_data_options
def export_indigo(contract: str | None, all_public: bool, out: Path | None,
                  validate: bool) -> None:
    """Write published contracts as INDIGO 4.1 projects with their organisations (public
    parts only; results suppressed below k)."""
    _open_data("indigo", contract, all_public, out, validate)


@main.command("export-360giving")
@_open_data_options
def export_360giving(contract: str | None, all_public: bool, out: Path | None,
                     validate: bool) -> None:
    """Write the grants funds pay for published contracts as a 360Giving package (public
    parts only)."""
    _open_data("360giving", contract, all_public, out, validate)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

