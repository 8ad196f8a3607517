"""The reference library's importer: `import_indigo(path)` loads outcome contracts published
elsewhere into ReferenceProject, ReferenceMetric and ReferencePrice, and nothing else writes
those tables.

The path is the INDIGO dataset's folder of CSVs (opendata.indigo_csv reads them back into
INDIGO 4.1 project documents) or INDIGO 4.1 project JSON (a file or a folder of files, as
Virker's own export writes them). Both go through the same reader, project by project:

- columns hold what search and reuse need (codes, names, country, policy sectors, dates as
  their text and first day, the currency and its amounts in minor units); `data` (JSON) holds
  the whole project as imported: alternative names, dates, finance (amounts in minor units;
  INDIGO's own USD conversions as the text given, never as money), payers, providers,
  results, outcome payments planned and actual, metrics, prices and the source;
- a value that cannot be read (an amount that is no number, a currency that names none) is
  left out and reported; an unreadable date keeps its text and is reported; a row or project
  without an id is skipped and reported with its line; nothing stops the import;
- idempotent: each project's content hash covers everything its rows are read from (its
  document, the organisations it names, the source's attribution and the reader's own code;
  opendata.indigo_project.source_hash), and the hashes stored are read, under the run's lock,
  before any project is: an unchanged project is not read again and is left as it is (same
  ids, same imported_at), so the report names the problems of new and changed projects only;
  a changed one is updated in place (its id stays) and its metrics and prices replaced, a new
  one inserted; projects not in the source stay. One transaction per run, writes in bulk;
  the run's report is kept as a ReferenceImport.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from contracts.errors import Malformed
from core.clock import now
from core.database import any_of, bulk_insert, is_sqlite, write_transaction
from core.ids import new_id
from opendata.indigo_csv import PROJECTS, Unreadable, Where, clean_id, read_tables
from opendata.indigo_project import (
    Built,
    Log,
    ProjectReader,
    Skipped,
    source_hash,
    text_at,
    text_of,
    value_of,
)
from opendata.tables import ReferenceImport, ReferenceMetric, ReferencePrice, ReferenceProject

GOLAB = "Government Outcomes Lab, INDIGO Impact Bond Dataset"
# The dataset this version of Virker was built against, when its README is not beside it.
GOLAB_DEFAULT = f"{GOLAB} v2, data pulled 2025-05-20"
# Kind of problem → how the summary counts it (one, many).
KINDS = {"file": ("file skipped", "files skipped"),
         "project": ("project skipped", "projects skipped"),
         "row": ("row skipped", "rows skipped"), "value": ("value skipped", "values skipped"),
         "text": ("date kept as text only", "dates kept as text only"),
         "note": ("note", "notes")}


class ImportReport(msgspec.Struct, kw_only=True):
    """One run: projects read (skipped ones included), loaded (new or changed), unchanged and
    skipped; metric and price rows written; the source's attribution; and each problem."""

    id: UUID
    path: str
    started_at: dt.datetime
    finished_at: dt.datetime
    projects: int
    loaded: int
    new: int
    changed: int
    unchanged: int
    skipped: int
    metrics: int
    prices: int
    sources: list[str]
    new_codes: list[str]
    changed_codes: list[str]
    problems: list[Skipped]


# ---------------------------------------------------------------- sources


class _Read(msgspec.Struct, kw_only=True):
    """Project documents with their source's attribution, and organisations by id."""

    docs: list[tuple[dict, str]]
    organisations: dict[str, dict]
    sources: list[str]
    files: list[str]
    skipped: int = 0


def _golab(folder: Path) -> str:
    """The dataset's attribution, with its version and date from its README when there."""
    readme = folder / "README.md"
    if not readme.exists():
        return GOLAB_DEFAULT
    text = readme.read_text(encoding="utf-8", errors="replace")
    version = re.search(r"INDIGO Impact Bond Dataset (v\d+)", text)
    pulled = re.search(r"data pulled (\d{4}-\d{2}-\d{2})", text)
    return GOLAB + (f" {version.group(1)}" if version else "") + \
        (f", data pulled {pulled.group(1)}" if pulled else "")


def _publisher(node: Any) -> str | None:
    value = node.get("publisher") if isinstance(node, dict) else None
    if isinstance(value, dict):
        value = value_of(value, "name")
    return text_of(value)


def _json_projects(value: Any) -> tuple[list[dict], list[dict], str | None]:
    """Projects, organisations and publisher in a JSON file: one project (perhaps wrapped as
    {"project": …} or {"id": …, "data": …}), a list of them, or {"projects": [...]}."""
    if isinstance(value, dict) and isinstance(value.get("projects"), list):
        items, orgs = value["projects"], value.get("organisations") or []
    elif isinstance(value, list):
        items, orgs = value, []
    else:
        items, orgs = [value], (value.get("organisations") or []) if isinstance(value, dict) \
            else []
    projects = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("project"), dict):
            item = item["project"]
        if isinstance(item, dict) and isinstance(item.get("data"), dict) and "name" not in item:
            item = {**item["data"], "id": item.get("id", item["data"].get("id"))}
        projects.append(item)
    return projects, [o for o in orgs if isinstance(o, dict)], \
        _publisher(value) if isinstance(value, dict) else None


def _read_json(files: list[Path], log: Log, single: bool) -> _Read:
    read = _Read(docs=[], organisations={}, sources=[], files=[])
    for path in files:
        try:
            value = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            if single:
                raise Malformed(f"{path.name} is not JSON: {exc}") from None
            log.record("file", f"not JSON ({exc}); the file is skipped",
                       where=Where(path.name))
            continue
        read.files.append(path.name)
        projects, orgs, file_publisher = _json_projects(value)
        for org in orgs:
            body = org["data"] if isinstance(org.get("data"), dict) else org
            org_id = clean_id(text_at(org, "id") or text_at(body, "id") or "")
            if org_id:
                read.organisations[org_id] = {
                    "name": text_at(body, "name"),
                    "jurisdiction": text_at(body, "jurisdiction") or text_at(body, "country")}
        for index, doc in enumerate(projects):
            if not isinstance(doc, dict):
                log.record("project", f"project {index + 1} is not an object; it is skipped",
                           where=Where(path.name))
                read.skipped += 1
                continue
            source = _publisher(doc) or file_publisher or f"INDIGO 4.1 project file {path.name}"
            read.docs.append(({**doc, "_where": Where(path.name)}, source))
            if source not in read.sources:
                read.sources.append(source)
    return read


def read_source(path: Path, log: Log) -> _Read:
    """The INDIGO CSVs in a folder, or INDIGO 4.1 JSON in a file or a folder."""
    if path.is_dir() and (path / PROJECTS).exists():
        try:
            tables = read_tables(path)
        except Unreadable as exc:
            raise Malformed(str(exc)) from None
        for p in tables.problems:
            log.record(p["kind"], p["text"], p["project"], Where(p["file"], line=p["line"]))
        source = _golab(path)
        return _Read(docs=[(doc, source) for doc in tables.projects],
                     organisations=tables.organisations, sources=[source], files=tables.files,
                     skipped=sum(1 for p in tables.problems if p["kind"] == "project"))
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())
        if not files:
            raise Malformed(f"{path} holds no INDIGO data: neither {PROJECTS} nor .json files")
        return _read_json(files, log, single=False)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            raise Malformed(f"{path} is one CSV: give the folder that holds {PROJECTS} and the "
                            "other INDIGO tables")
        return _read_json([path], log, single=True)
    raise Malformed(f"{path} does not exist")


class _Run(msgspec.Struct, kw_only=True):
    """What a run read and wrote, for its report."""

    new_codes: list[str] = msgspec.field(default_factory=list)
    changed_codes: list[str] = msgspec.field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0
    metrics: int = 0
    prices: int = 0


def build_projects(read: _Read, log: Log, stored: dict[str, str],
                   run: _Run) -> list[Built]:
    """Each readable project whose source hash differs from the one `stored` for its code (a
    new or changed project) read into rows; the others are counted as unchanged or skipped."""
    built: list[Built] = []
    seen: set[str] = set()
    for doc, source in read.docs:
        where = doc.get("_where")
        code = clean_id(text_at(doc, "id") or "")
        reason = None
        if not code:
            reason = "a project without an id is skipped"
        elif len(code) > 64:
            reason = "an id longer than 64 characters; the project is skipped"
        elif code in seen:
            reason = "appears again; the first is kept"
        elif str(doc.get("status", "")).upper() == "PRIVATE":
            reason = "is marked PRIVATE; the project is skipped"
        if reason:
            log.record("project", reason, code or None, where)
            run.skipped += 1
            continue
        seen.add(code)
        digest = source_hash(doc, read.organisations, source)
        if stored.get(code) == digest:
            run.unchanged += 1
            continue
        project = ProjectReader(doc, code, read.organisations, log).build(source)
        if project is None:
            run.skipped += 1
            continue
        project.content_hash = digest
        built.append(project)
    return built


# ---------------------------------------------------------------- storing


async def _store(built: list[Built], ids: dict[str, UUID], run: _Run) -> None:
    """Write the new and changed projects (inside the run's transaction): a changed one keeps
    its id, and its metrics and prices are replaced."""
    stamp = now()
    inserts: list[dict] = []
    updates: list[tuple[UUID, Built]] = []
    metric_rows: list[dict] = []
    price_rows: list[dict] = []
    for project in built:
        project_id = ids.get(project.code)
        if project_id is None:
            project_id = new_id()
            run.new_codes.append(project.code)
            inserts.append({"id": project_id, **project.row,
                            "content_hash": project.content_hash, "imported_at": stamp})
        else:
            run.changed_codes.append(project.code)
            updates.append((project_id, project))
        metric_rows += [{"id": new_id(), "project": project_id, **m}
                        for m in project.metrics]
        price_rows += [{"id": new_id(), "project": project_id, **p} for p in project.prices]
    if updates:
        changed = [project_id for project_id, _ in updates]
        await ReferencePrice.delete().where(any_of(ReferencePrice.project, changed))
        await ReferenceMetric.delete().where(any_of(ReferenceMetric.project, changed))
        for project_id, project in updates:
            values = {**project.row, "content_hash": project.content_hash,
                      "imported_at": stamp}
            await ReferenceProject.update(
                {getattr(ReferenceProject, k): v for k, v in values.items()}
            ).where(ReferenceProject.id == project_id)
    await bulk_insert(ReferenceProject, inserts)
    await bulk_insert(ReferenceMetric, metric_rows)
    await bulk_insert(ReferencePrice, price_rows)
    run.metrics, run.prices = len(metric_rows), len(price_rows)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """An import makes some 300,000 small dicts, lists and texts, none of them in a cycle, and
    frees them by reference counting: the cycle collector would walk the growing heap again
    and again and find nothing. It is off for the run (some 0.1 s) and on again after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def import_indigo(path: Path | str) -> ImportReport:
    """Load INDIGO projects from `path` into the reference library; see the module's
    docstring. Returns the run's report, also stored as a ReferenceImport row."""
    with _no_cycle_collection():
        return await _import(Path(path))


async def _import(path: Path) -> ImportReport:
    started = now()
    log = Log()
    run = _Run()
    read = read_source(path, log)
    engine = ReferenceProject._meta.db
    async with write_transaction(engine):
        if not is_sqlite(engine):
            # Two imports at once would both see a project as new; the second waits, then reads.
            await engine.run_ddl("LOCK TABLE reference_project IN SHARE ROW EXCLUSIVE MODE")
        stored = await ReferenceProject.select(
            ReferenceProject.id, ReferenceProject.code, ReferenceProject.content_hash)
        built = build_projects(read, log, {r["code"]: r["content_hash"] for r in stored}, run)
        await _store(built, {r["code"]: r["id"] for r in stored}, run)
        loaded = len(run.new_codes) + len(run.changed_codes)
        report = ImportReport(
            id=new_id(), path=str(path), started_at=started, finished_at=now(),
            projects=len(read.docs) + read.skipped, loaded=loaded, new=len(run.new_codes),
            changed=len(run.changed_codes), unchanged=run.unchanged,
            skipped=read.skipped + run.skipped, metrics=run.metrics, prices=run.prices,
            sources=read.sources, new_codes=run.new_codes, changed_codes=run.changed_codes,
            problems=log.items)
        await ReferenceImport.insert(ReferenceImport(
            id=report.id, source="; ".join(read.sources) or str(path),
            started_at=report.started_at, finished_at=report.finished_at,
            projects=report.projects, loaded=report.loaded, unchanged=report.unchanged,
            skipped=report.skipped, report=msgspec.json.encode(report).decode()))
    return report


def report_text(report: ImportReport, examples: int = 5) -> str:
    """The report as a few lines for people: the counts, and per kind of problem how many and
    the first few."""
    seconds = (report.finished_at - report.started_at).total_seconds()
    lines = [
        f"{report.path}: {report.projects} project{'s' * (report.projects != 1)} read "
        f"({'; '.join(report.sources) or 'no source'})",
        f"{report.loaded} loaded ({report.new} new, {report.changed} changed), "
        f"{report.unchanged} unchanged, {report.skipped} skipped; {report.metrics} metrics and "
        f"{report.prices} prices written in {seconds:.1f} s",
    ]
    for kind, (one, many) in KINDS.items():
        items = [p for p in report.problems if p.kind == kind]
        if not items:
            continue
        lines.append(f"{len(items)} {one if len(items) == 1 else many}:")
        lines += [f"  {p.message}" for p in items[:examples]]
        if len(items) > examples:
            lines.append(f"  … and {len(items) - examples} more (--json for the whole report)")
    lines.append(f"import {report.id}")
    return "\n".join(lines)
