"""The INDIGO dataset's flattened CSV tables, read back into INDIGO 4.1 project documents.

The CSVs (one per sub-table of a project, RFC 4180 quoting, multi-line cells) flatten
project.json: each header is a field's titles joined with " - ". `read_tables` reads them with
pandas, every cell as text, and puts each value back where project.json has it (bare where
project.json wraps it as {"value": …}, which the reader takes alike), so that one reader
(opendata.indigo_project) takes both the CSVs and INDIGO's JSON. Empty cells are left out; ids
lose the whitespace around them (a stray tab or space is no part of an id); a line break in a
cell is a line feed, whatever the file's lines end with. Each document and each of its
sub-rows carries `_where` (file and record) for the import's report.
"""

from __future__ import annotations

import csv
import functools
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

PROJECTS = "projects.csv"
ORGANISATIONS = "organisations.csv"

_V = ("value",)


def _table(prefix: str, pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Header → path in the project document. A path ending in "=" is the field itself
    (ids, notes, source ids); any other gets ".value"."""
    out: dict[str, tuple[str, ...]] = {}
    for header, path in pairs:
        keys = tuple(path.rstrip("=").split("."))
        out[f"{prefix}{header}" if prefix else header] = keys if path.endswith("=") \
            else keys + _V
    return out


_FIN = "Overall project finance - "
_TIC = "overall_project_finance.total_investment_commitment"
_MPOP = "overall_project_finance.maximum_potential_outcome_payment_v2"
_TOPM = "overall_project_finance.total_outcome_payments_made"
_INV = "investment_details"
_PUR = "purpose_and_classifications"
_SB = "service_and_beneficiaries"
_DATES = {
    "Date outcomes contract signed": "outcomes_contract_signed",
    "Date contracts between all parties signed": "contracts_between_all_parties_signed",
    "Anticipated completion date": "anticipated_completion_date",
    "Actual completion date": "actual_completion_date",
    "Start date of service provision": "start_date_of_service_provision",
    "Anticipated end date of service provision": "anticipated_end_date_of_service_provision",
    "Actual end date of service provision": "actual_end_date_of_service_provision",
    "Anticipated duration of service provision": "anticipated_duration_of_service_provision",
    "Actual duration of service provision": "actual_duration_of_service_provision",
}
_SDG = [("Primary SDG goal", "primary_sdg_goal"), ("Secondary SDG goals", "secondary_sdg_goals"),
        ("Primary SDG target", "primary_sdg_target"),
        ("Secondary SDG targets", "secondary_sdg_targets")]

COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    PROJECTS: {
        "ID": ("id",),
        **_table("", [
            ("Impact Bond Name - (Value)", "name"),
            ("Alternative Names - (Value)", "alternative_names"),
            ("Stage of Development - (Value)", "stage_development"),
            ("Stage of Development - (Source ID's)", "stage_development.source_ids="),
            ("Social Investment Prototype - (Value)", "social_investment_prototype"),
            *[(f"Dates - {title} - (Value)", f"dates.{key}") for title, key in _DATES.items()],
            ("Dates - (Source ID's)", "dates.source_ids="),
            ("Dates - (Notes)", "dates.notes="),
            ("Jurisdiction - Jurisdiction - (Value)", "jurisdiction.jurisdiction"),
            ("Jurisdiction - (Source ID's)", "jurisdiction.source_ids="),
            ("Jurisdiction - (Notes)", "jurisdiction.notes="),
            ("Changes to project due to COVID-19 - (Value)",
             "changes_to_project_due_to_covid19"),
            ("Changes to project due to COVID-19 - (Source ID's)",
             "changes_to_project_due_to_covid19.source_ids="),
            ("Notes - (Value)", "notes"),
        ]),
        **_table(_FIN, [
            ("Total investment commitment - Currency - (Value)", f"{_TIC}.currency"),
            *[(f"Total investment commitment - Amount{usd} - {bound.title()} - (Value)",
               f"{_TIC}.amount{key}.{bound}")
              for usd, key in (("", ""), (" USD", "_usd")) for bound in ("min", "exact", "max")],
            ("Maximum potential outcome payment - Currency - (Value)", f"{_MPOP}.currency"),
            ("Maximum potential outcome payment - Amount - (Value)", f"{_MPOP}.amount"),
            ("Maximum potential outcome payment - Amount USD - (Value)", f"{_MPOP}.amount_usd"),
            ("Maximum potential loss - (Value)",
             "overall_project_finance.maximum_potential_loss"),
            ("Maximum potential return type - (Value)",
             "overall_project_finance.maximum_potential_return_type"),
            ("Maximum potential return - (Value)",
             "overall_project_finance.maximum_potential_return"),
            ("Configuration of the Contracting Parties - (Value)",
             "overall_project_finance.configuration_contracting_parties"),
            ("Investor repayment - (Value)", "overall_project_finance.investor_repayment"),
            ("Total outcome payments made - Currency - (Value)", f"{_TOPM}.currency"),
            ("Total outcome payments made - Amount - (Value)", f"{_TOPM}.amount"),
            ("Total outcome payments made - Amount USD - (Value)", f"{_TOPM}.amount_usd"),
            ("(Source ID's)", "overall_project_finance.source_ids="),
            ("(Notes)", "overall_project_finance.notes="),
        ]),
        **_table("Investment Details - ", [
            ("Total Funds Invested - Latest - Currency - (Value)",
             f"{_INV}.total_funds_invested.latest.currency"),
            ("Total Funds Invested - Latest - Amount - (Value)",
             f"{_INV}.total_funds_invested.latest.amount"),
            ("Total Funds Invested - Latest - Amount USD - (Value)",
             f"{_INV}.total_funds_invested.latest.amount_usd"),
            ("Total Funds Invested - Latest - Date - (Value)",
             f"{_INV}.total_funds_invested.latest.date"),
            ("Internal Rate of Return - Target - (Value)",
             f"{_INV}.internal_rate_of_return.target"),
            ("Internal Rate of Return - Latest - (Value)",
             f"{_INV}.internal_rate_of_return.latest"),
            ("Internal Rate of Return - Date - (Value)", f"{_INV}.internal_rate_of_return.date"),
            ("(Source ID's)", f"{_INV}.source_ids="),
            ("(Notes)", f"{_INV}.notes="),
        ]),
        **_table("Purpose and classifications - ", [
            ("Social challenge - (Value)", f"{_PUR}.social_challenge"),
            ("Intervention - (Value)", f"{_PUR}.intervention"),
            ("Policy sector - (Value)", f"{_PUR}.policy_sector"),
            *[(f"{title} - (Value)", f"{_PUR}.{key}") for title, key in _SDG],
            ("(Source ID's)", f"{_PUR}.source_ids="),
            ("(Notes)", f"{_PUR}.notes="),
        ]),
        **_table("Service and beneficiaries - ", [
            ("Target population - (Value)", f"{_SB}.target_population"),
            ("Targeted number of unique service users or beneficiaries (total) - (Value)",
             f"{_SB}.targeted_number_service_users_or_beneficiaries_total"),
            ("Unit type of targeted service users or beneficiaries - (Value)",
             f"{_SB}.unit_type_targeted_service_users_or_beneficiaries"),
            ("Unit description of targeted service user or beneficiaries - (Value)",
             f"{_SB}.unit_description_of_service_user_or_beneficiaries"),
            ("Actual number of unique service users or beneficiaries engaged (total) - (Value)",
             f"{_SB}.actual_number_service_users_or_beneficiaries_total"),
            ("Unit type of actual service users or beneficiaries engaged - (Value)",
             f"{_SB}.unit_type_actual_service_users_or_beneficiaries"),
            ("Unit description of actual service user or beneficiaries engaged - (Value)",
             f"{_SB}.unit_description_of_actual_service_user_or_beneficiaries"),
            ("(Source ID's)", f"{_SB}.source_ids="),
            ("(Notes)", f"{_SB}.notes="),
        ]),
    },
}

_COMMON = [("Sources", "source_ids="), ("Notes", "notes="), ("(In Sandboxes)", "sandboxes=")]
_PERIOD = [("Period - Start - (Value)", "period.start_date"),
           ("Period - End - (Value)", "period.end_date")]

# Sub-table file → (the project document's list, its columns). "Project ID" names the project.
SUBTABLES: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "projects_outcome_metrics.csv": ("outcome_metrics", _table("", [
        ("Id", "id="),
        ("Outcome Definition - (Value)", "definition"),
        ("Target Population - (Value)", "target_population"),
        ("Targeted number of service users Or beneficiaries (total) - (Value)",
         "targeted_number_of_service_users_or_beneficiaries_total"),
        ("Unit type of targeted Service users or beneficiaries - (Value)",
         "unit_type_of_targeted_service_users_or_beneficiaries"),
        ("Unit description of Service user or beneficiaries - (Value)",
         "unit_description_of_service_user_or_beneficiaries"),
        ("Outcome metric target - (Value)", "outcome_metric_target"),
        ("Other target for Meeting outcome metric target - (Value)",
         "other_target_for_meeting_outcome_metric_target"),
        ("Outcome validation Method - (Value)", "outcome_validation_method"),
        ("Data source for Outcome validation - (Value)", "data_source_for_outcome_validation"),
        ("Policy sector - (Value)", "policy_sector"),
        *[(f"{title} - (Value)", key) for title, key in _SDG],
        *_COMMON])),
    "projects_outcome_pricings.csv": ("outcome_pricings", _table("", [
        ("Outcome Metric Id - (Value)", "outcome_metric_id"),
        ("Currency - (Value)", "currency"),
        ("Price Per Unit - Amount - (Value)", "price_per_unit.amount"),
        ("Price Per Unit - Amount USD - (Value)", "price_per_unit.amount_usd"),
        ("Maximum Price if all targets achieved - Amount - (Value)",
         "maximum_price_if_all_targets_achieved.amount"),
        ("Contracted increases to outcome pricing - (Value)",
         "contracted_increases_to_outcome_pricing"),
        ("Price Description - (Value)", "price_description"),
        *_COMMON])),
    "projects_outcome_payment_commitments.csv": ("outcome_payment_commitments", _table("", [
        ("Organisation ID - (Value)", "organisation_id"),
        ("Organisation Role Category - (Value)", "organisation_role_category"),
        ("Maximum potential Outcome payment - Currency - (Value)",
         "maximum_potential_outcome_payment.currency"),
        ("Maximum potential Outcome payment - Amount - (Value)",
         "maximum_potential_outcome_payment.amount"),
        ("Maximum potential Outcome payment - Amount USD - (Value)",
         "maximum_potential_outcome_payment.amount_usd"),
        ("Result type - (Value)", "result_type"),
        *_PERIOD,
        ("Total outcome payments made - Currency - (Value)", "total_outcome_payments.currency"),
        ("Total outcome payments made - Amount - (Value)", "total_outcome_payments.amount"),
        ("Total outcome payments made - Amount USD - (Value)",
         "total_outcome_payments.amount_usd"),
        ("Alterations to payment commitment - Description - (Value)",
         "alterations.description"),
        ("Alterations to payment commitment - Reason - (Value)", "alterations.reason"),
        *_COMMON])),
    "projects_results.csv": ("results", _table("", [
        ("Outcome Metric Id - (Value)", "outcome_metric_id"),
        ("Result level - (Value)", "result_level"),
        ("Result type - (Value)", "result_type"),
        *_PERIOD,
        ("Outcomes achieved - (Value)", "outcomes_achieved"),
        ("Number engaged In impact bond - (Value)", "number_engaged_in_impact_bond"),
        ("Number with Positive social outcomes - (Value)",
         "number_with_positive_social_outcomes"),
        ("Other Description of result - (Value)", "other_description_of_result"),
        ("Outcomes validator(s) - (Value)", "outcomes_validator_organisation_ids"),
        ("Evaluation Documents - (Value)", "evaluation_documents_source_ids"),
        *_COMMON])),
    "projects_outcome_payment_plans.csv": ("outcome_payment_plans", _table("", [
        ("Outcome Payment Plan Id - (Value)", "id"),
        *_PERIOD,
        *_COMMON])),
    "projects_outcome_payments.csv": ("outcome_payments", _table("", [
        ("Outcome Payment Plan Id - (Value)", "outcome_payment_plan_id"),
        ("Outcome Metric Id - (Value)", "outcome_metric_id"),
        *_PERIOD,
        ("Payer Organisation ID - (Value)", "payer_organisation_id"),
        ("Recipient Organisation ID - (Value)", "recipient_organisation_id"),
        ("Type - (Value)", "type"),
        ("Payments - Currency - (Value)", "money.currency"),
        ("Payments - Amount - (Value)", "money.amount"),
        ("Payments - Amount USD - (Value)", "money.amount_usd"),
        *_COMMON])),
    "projects_service_provisions.csv": ("service_provisions", _table("", [
        ("Id", "id="),
        ("Organisation ID - (Value)", "organisation_id"),
        ("Organisation Role Category - (Value)", "organisation_role_category"),
        ("Intervention - (Value)", "intervention"),
        ("Planned Service - Start - (Value)", "planned_service.start_date"),
        ("Planned Service - End - (Value)", "planned_service.end_date"),
        ("Actual Service - Start - (Value)", "actual_service.start_date"),
        ("Actual Service - End - (Value)", "actual_service.end_date"),
        ("Alterations to service - Description - (Value)", "alterations.description"),
        ("Alterations to service - Reason - (Value)", "alterations.reason"),
        *_COMMON])),
}
PROJECT_ID = "Project ID"
# Fields that hold ids: whitespace inside them (a tab typed into a cell) is no part of them.
_ID_FIELDS = {("id",), ("id", "value"), ("outcome_metric_id", "value"),
              ("outcome_payment_plan_id", "value"), ("organisation_id", "value"),
              ("payer_organisation_id", "value"), ("recipient_organisation_id", "value"),
              ("outcomes_validator_organisation_ids", "value")}


# INDIGO's ids ("INDIGO-FUND-0012") and the within-project ones ("outcomemetric2", "plan1").
_CODE_ID = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*-?\d+")
_SPACE = re.compile(r"\s")


def clean_id(value: object) -> str:
    """An id without the whitespace around it, or inside it when it is a code such as
    "INDIGO-FUND-\\t0012" (→ "INDIGO-FUND-0012"). An id that is a name ("Family Lives", as
    some service provisions have) keeps single spaces between its words."""
    text = str(value)
    if _SPACE.search(text) is None:
        return text
    text = " ".join(text.split())
    compact = text.replace(" ", "")
    return compact if _CODE_ID.fullmatch(compact) else text


def split_ids(value: object) -> list[str]:
    """Comma-joined ids ("INDIGO-ORG-0001, INDIGO-ORG-0002") as a list, each cleaned, in
    order, without repeats or empties."""
    if value is None:
        return []
    out: list[str] = []
    for part in str(value).split(","):
        item = clean_id(part)
        if item and item not in out:
            out.append(item)
    return out


class Unreadable(ValueError):
    """A file that cannot be read as a CSV table at all; the message says where."""


def read_csv(path: Path) -> pd.DataFrame:
    """Every cell as text, an empty cell as "" (never NaN), quoted line breaks kept. A file
    that is no table (a row with more cells than the header has, not UTF-8) is Unreadable:
    part of a file is not loaded."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from None
    except pd.errors.EmptyDataError:
        raise Unreadable(f"{path.name} is empty: not even a header") from None
    except pd.errors.ParserError as exc:
        raise Unreadable(_first_bad_record(path) or f"{path.name} cannot be read as a CSV "
                         f"table: {exc}") from None


def _first_bad_record(path: Path) -> str | None:
    """Where a table breaks: the first record with more cells than the header has, by the
    line it starts on (pandas counts records)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        start = reader.line_num + 1
        for record in reader:
            if len(record) > len(header):
                return (f"{path.name} line {start}: {len(record)} cells where the header has "
                        f"{len(header)}")
            start = reader.line_num + 1
    return None


def record_lines(path: Path) -> tuple[int, ...]:
    """The line each record of the file starts on (the header's is 1). A quoted cell may span
    lines, so a record's number is not its line. Read only when a record is reported."""
    stat = path.stat()
    return _record_lines(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _record_lines(path: Path, _mtime_ns: int, _size: int) -> tuple[int, ...]:
    starts: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        start = 1
        for record in reader:
            if record:
                starts.append(start)
            start = reader.line_num + 1
    return tuple(starts)


def line_of(path: Path, index: int) -> int:
    """The line record `index` (0 for the first after the header) starts on."""
    starts = record_lines(path)
    return starts[index + 1] if index + 1 < len(starts) else index + 2


class Where:
    """Where a document or row was read: its file, and for a CSV record its line (found only
    when a problem with it is reported). For the report alone: no part of a project's content,
    so a row that moves in its file leaves its project unchanged."""

    __slots__ = ("_index", "_line", "_path", "file")

    def __init__(self, file: str, *, line: int | None = None, path: Path | None = None,
                 index: int | None = None) -> None:
        self.file, self._line, self._path, self._index = file, line, path, index

    @property
    def line(self) -> int | None:
        if self._line is None and self._path is not None and self._index is not None:
            self._line = line_of(self._path, self._index)
        return self._line


@functools.cache
def _places(file: str) -> dict[str, tuple[tuple[str, ...], str, bool]]:
    """Where each column of `file` puts its value in a document: (the parents, its key,
    whether it is an id). A field's value goes in bare, as the reader takes a bare value as
    INDIGO's {"value": …}, unless the field has notes or sources beside it."""
    columns = COLUMNS[PROJECTS] if file == PROJECTS else SUBTABLES[file][1]
    inside = Counter(keys[:i] for keys in columns.values() for i in range(1, len(keys)))
    places = {}
    for header, keys in columns.items():
        place = keys[:-1] if keys[-1] == "value" and inside[keys[:-1]] == 1 else keys
        places[header] = (place[:-1], place[-1], keys in _ID_FIELDS)
    return places


_OTHER = ("other_fields",)


@functools.lru_cache(maxsize=4096)
def _clean_ids(text: str) -> str:
    return ", ".join(split_ids(text)) if "," in text else clean_id(text)


def _documents(frame: pd.DataFrame, file: str, path: Path,
               skip: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One document per row, column by column. Most cells are empty: numpy finds the others,
    and only those are visited."""
    docs: list[dict[str, Any]] = [{"_where": Where(file, path=path, index=i)}
                                  for i in range(len(frame))]
    places = _places(file)
    cells = frame.to_numpy(dtype=object)
    filled = cells != ""
    for column in filled.any(axis=0).nonzero()[0].tolist():
        header = frame.columns[column]
        if header in skip:
            continue
        # Where the value goes: parents (made when missing), then its own key; a column
        # INDIGO 4.1 does not name goes to other_fields.
        parents, last, is_id = places.get(header) or (_OTHER, header, False)
        rows = filled[:, column].nonzero()[0]
        for index, value in zip(rows.tolist(), cells[rows, column].tolist(), strict=True):
            text = value.strip()
            if not text:
                continue
            if "\r" in text:  # a quoted line break, as the file ends its lines
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            if is_id:
                text = _clean_ids(text)
            node = docs[index]
            for key in parents:
                child = node.get(key)
                if child is None:
                    child = node[key] = {}
                node = child
            node[last] = text
    return docs


class Tables:
    """What the CSVs hold: project documents in file order, organisations by id, and the rows
    that could not be placed (each as {kind, file, line, project, text})."""

    def __init__(self) -> None:
        self.projects: list[dict[str, Any]] = []
        self.organisations: dict[str, dict[str, str]] = {}
        self.problems: list[dict[str, Any]] = []
        self.files: list[str] = []


def read_tables(folder: Path) -> Tables:
    """Read the INDIGO CSVs in `folder` (projects.csv at least) into project documents."""
    tables = Tables()
    path = folder / PROJECTS
    tables.files.append(PROJECTS)
    by_code: dict[str, dict[str, Any]] = {}
    for index, doc in enumerate(_documents(read_csv(path), PROJECTS, path)):
        code = doc.get("id")
        if not code:
            tables.problems.append(dict(kind="project", file=PROJECTS, line=line_of(path, index),
                                        project=None, text="a project without an ID is skipped"))
        elif code in by_code:
            tables.problems.append(dict(kind="project", file=PROJECTS, line=line_of(path, index),
                                        project=code,
                                        text=f"{code} appears again; the first is kept"))
        else:
            by_code[code] = doc
            tables.projects.append(doc)
    for name, (key, _) in SUBTABLES.items():
        sub_path = folder / name
        if not sub_path.exists():
            continue
        tables.files.append(name)
        frame = read_csv(sub_path)
        written = frame[PROJECT_ID].tolist() if PROJECT_ID in frame else [""] * len(frame)
        cleaned = {code: clean_id(code) for code in set(written)}
        codes = [cleaned[code] for code in written]
        for index, (code, row) in enumerate(zip(codes, _documents(
                frame, name, sub_path, skip=(PROJECT_ID,)), strict=True)):
            doc = by_code.get(code)
            if doc is None:
                text = (f"a row without a {PROJECT_ID} is skipped" if not code else
                        f"a row for {code}, which {PROJECTS} does not have, is skipped")
                tables.problems.append(dict(kind="row", file=name, line=line_of(sub_path, index),
                                            project=code or None, text=text))
                continue
            doc.setdefault(key, []).append(row)
    orgs_path = folder / ORGANISATIONS
    if orgs_path.exists():
        tables.files.append(ORGANISATIONS)
        orgs = read_csv(orgs_path)
        for org_id, org_name, jurisdiction in zip(
                orgs["ID"].tolist(), orgs["Name"].tolist(), orgs["Jurisdiction"].tolist(),
                strict=True):
            org_id = clean_id(org_id)
            if org_id:
                tables.organisations[org_id] = {"name": org_name.strip(),
                                                "jurisdiction": jurisdiction.strip()}
    return tables
