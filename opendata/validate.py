"""Validate exports against the standards' own JSON Schemas, offline, and against the rules
those schemas leave unenforced.

The schemas are the standards' files, unchanged, read from the shared reference library
(`../shared/reference/schemas` beside the repository, or VIRKER_SCHEMAS): Virker's exports
never need them; the tests and `virker export-… --validate` do. jsonschema and referencing
(development dependencies) are imported only here.

- OCDS 1.1.5 (draft 4): the metrics extension is applied to release-schema.json as an RFC
  7386 JSON merge patch, and the package's `$ref` to the release schema resolves to the
  patched schema through a `referencing.Registry`. Beyond the schema: every amount has its
  currency, every organisation referred to is among the release's parties.
- INDIGO 4.1 (draft 7), project.json for the project and organisation.json for each
  organisation. Beyond the schema, which enforces no codelist: a currency is an ISO 4217
  code (Babel's list), a date is a full ISO 8601 date (2020-06-01, never "June 2020" nor a
  bare year: Virker knows its days), a country is in the INDIGO codelist, and no value
  marked PRIVATE is carried (nothing private leaves).
- 360Giving 1.4 (draft 2020-12): the grant schema is registered under the URL the package
  schema names it by. Beyond the schema: a grant id carries a 360G- prefix.

Each validator returns the problems found, each a path into the document and a message;
none is a valid document. Formats (date-time, date, uri) are checked, by rules of Virker's
own, so that no optional package decides whether a date is checked.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel.numbers import list_currencies

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCHEMAS = ROOT.parent / "shared" / "reference" / "schemas"

OCDS_RELEASE = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"
GRANT_URL_NAMED = ("https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.2/schema/"
                   "360-giving-schema.json")

FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class SchemasMissing(FileNotFoundError):
    """The standards' schemas are not where Virker looks for them."""


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(the document)'}: {self.message}"


def schemas_dir() -> Path:
    """Where the schemas are: VIRKER_SCHEMAS, else ../shared/reference/schemas beside the
    repository. SchemasMissing when they are not there."""
    path = Path(os.environ.get("VIRKER_SCHEMAS") or DEFAULT_SCHEMAS)
    if not (path / "ocds-1.1.5" / "release-schema.json").is_file():
        raise SchemasMissing(f"the open-data schemas are not in {path} (set VIRKER_SCHEMAS to "
                             "the folder holding ocds-1.1.5, ocds-metrics, indigo-4.1 and "
                             "360giving)")
    return path


def _load(*parts: str) -> dict:
    return json.loads((schemas_dir().joinpath(*parts)).read_text(encoding="utf-8"))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: `patch` applied to `target` (neither is changed)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _format_checker():
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())

    @checker.checks("date-time")
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not DATE_TIME.match(value):
            return False
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True

    @checker.checks("date")
    def date(value: object) -> bool:
        return not isinstance(value, str) or _is_date(value)

    @checker.checks("uri")
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value

    return checker


def _is_date(value: str) -> bool:
    if not FULL_DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _schema_problems(validator: Any, document: Any, prefix: Iterable[Any] = ()) -> list[Problem]:
    from jsonschema.exceptions import best_match

    out = []
    for error in validator.iter_errors(document):
        message, path = error.message, error.absolute_path
        if error.context:  # oneOf / anyOf: the branch that came closest says most
            best = best_match(error.context)
            message = f"fits none of the forms the standard allows: {best.message}"
            path = best.absolute_path
        if len(message) > 300:
            message = message[:300] + "…"
        out.append(Problem(_path([*prefix, *path]), message))
    return out


def _walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


# OCDS ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _ocds_validator() -> Any:
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    release = merge_patch(_load("ocds-1.1.5", "release-schema.json"),
                          _load("ocds-metrics", "release-schema.json"))
    package = _load("ocds-1.1.5", "release-package-schema.json")
    registry = Registry().with_resource(
        OCDS_RELEASE, Resource.from_contents(release, default_specification=DRAFT4))
    return Draft4Validator(package, registry=registry, format_checker=_format_checker())


def validate_ocds(package: dict) -> list[Problem]:
    """Problems of an OCDS release package (with the metrics extension)."""
    problems = _schema_problems(_ocds_validator(), package)
    for path, node in _walk(package):
        if isinstance(node, dict) and isinstance(node.get("amount"), int | float) \
                and not isinstance(node.get("amount"), bool) and not node.get("currency"):
            problems.append(Problem(_path(path), "an amount without its currency"))
    for i, release in enumerate(package.get("releases") or []):
        if not isinstance(release, dict):
            continue
        parties = {p.get("id") for p in release.get("parties") or [] if isinstance(p, dict)}
        for path, node in _walk(release, ("releases", i)):
            if path and path[-1] in ("buyer", "payer", "payee", "procuringEntity") \
                    and isinstance(node, dict) and node.get("id") not in parties:
                problems.append(Problem(_path(path), f"{node.get('id')!r} is not among the "
                                                     "release's parties"))
            if len(path) > 1 and path[-2] == "suppliers" and isinstance(node, dict) \
                    and node.get("id") not in parties:
                problems.append(Problem(_path(path), f"{node.get('id')!r} is not among the "
                                                     "release's parties"))
    return sorted(set(problems))


# INDIGO -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _indigo_validators() -> tuple[Any, Any]:
    from jsonschema import Draft7Validator

    checker = _format_checker()
    return (Draft7Validator(_load("indigo-4.1", "project.json"), format_checker=checker),
            Draft7Validator(_load("indigo-4.1", "organisation.json"), format_checker=checker))


@lru_cache(maxsize=1)
def _indigo_countries() -> frozenset[str]:
    path = schemas_dir() / "indigo-4.1" / "codelists" / "countries.csv"
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    return frozenset(r[0].strip() for r in rows[1:] if r and r[0].strip())


def _is_date_key(key: str) -> bool:
    return "date" in key or key.endswith("_signed")


def _indigo_rules(data: Any, prefix: tuple) -> list[Problem]:
    currencies = set(list_currencies())
    countries = _indigo_countries()
    out = []
    for path, node in _walk(data, prefix):
        if not isinstance(node, dict) or "value" not in node or not path:
            continue
        key, value, where = str(path[-1]), node["value"], _path(path)
        status = node.get("status")
        if status is not None and status not in ("PUBLIC", "PRIVATE", "DISPUTED"):
            out.append(Problem(f"{where}.status", f"{status!r} is not PUBLIC, PRIVATE or "
                                                  "DISPUTED"))
        if status == "PRIVATE" and value not in (None, ""):
            out.append(Problem(where, "a value marked PRIVATE is carried: nothing private "
                                      "may leave"))
        if value is None:
            continue
        if key == "currency" and value not in currencies:
            out.append(Problem(f"{where}.value", f"{value!r} is not an ISO 4217 currency "
                                                 "code"))
        elif _is_date_key(key) and (not isinstance(value, str) or not _is_date(value)):
            out.append(Problem(f"{where}.value", f"{value!r} is not a full ISO 8601 date "
                                                 "(YYYY-MM-DD)"))
        elif key in ("jurisdiction", "location_country") and value not in countries:
            out.append(Problem(f"{where}.value", f"{value!r} is not a country of the INDIGO "
                                                 "codelist (ISO 3166 alpha-2)"))
    return out


def _wrapped(item: Any, at: tuple, validator: Any, what: str) -> list[Problem]:
    """Problems of one `{"id", "data"}` object (a project or an organisation)."""
    if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
        return [Problem(_path(at), f"{what} is {{\"id\", \"data\"}}")]
    out = []
    if not isinstance(item.get("id"), str) or not item["id"]:
        out.append(Problem(_path((*at, "id")), f"{what} without an id"))
    out += _schema_problems(validator, item["data"], (*at, "data"))
    out += _indigo_rules(item["data"], (*at, "data"))
    return out


def validate_indigo(document: dict) -> list[Problem]:
    """Problems of INDIGO data as Virker exports it: one project `{"id", "data": project,
    "organisations": [{"id", "data": organisation}]}`, or many `{"projects": [{"id",
    "data"}], "organisations": [...]}`; or a bare project object."""
    project_v, organisation_v = _indigo_validators()
    if not isinstance(document, dict):
        return [Problem("", "an INDIGO document is a JSON object")]
    problems: list[Problem] = []
    if isinstance(document.get("projects"), list):
        for i, item in enumerate(document["projects"]):
            problems += _wrapped(item, ("projects", i), project_v, "a project")
    elif isinstance(document.get("data"), dict):
        problems += _wrapped(document, (), project_v, "a project")
    else:
        problems += _schema_problems(project_v, document)
        problems += _indigo_rules(document, ())
    organisations = document.get("organisations") or []
    if not isinstance(organisations, list):
        problems.append(Problem("organisations", "not a list"))
        organisations = []
    for i, org in enumerate(organisations):
        problems += _wrapped(org, ("organisations", i), organisation_v, "an organisation")
    return sorted(set(problems))


# 360Giving ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _giving_validator() -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    grant = _load("360giving", "360-giving-schema.json")
    resource = Resource.from_contents(grant, default_specification=DRAFT202012)
    registry = Registry().with_resources([(GRANT_URL_NAMED, resource),
                                          (grant["$id"], resource)])
    return Draft202012Validator(_load("360giving", "360-giving-package-schema.json"),
                                registry=registry, format_checker=_format_checker())


def validate_360giving(package: dict) -> list[Problem]:
    """Problems of a 360Giving grant package."""
    problems = _schema_problems(_giving_validator(), package)
    for i, grant in enumerate(package.get("grants") or [] if isinstance(package, dict)
                              else []):
        if isinstance(grant, dict) and isinstance(grant.get("id"), str) \
                and not grant["id"].startswith("360G-"):
            problems.append(Problem(f"grants[{i}].id", "a grant id starts with the "
                                                       "publisher's 360G- prefix"))
    return sorted(set(problems))


VALIDATORS = {"ocds": validate_ocds, "indigo": validate_indigo,
              "360giving": validate_360giving}
