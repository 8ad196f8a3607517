"""Reading batches: a JSON array or CSV with a header row, into Structs row by row.

A row that does not decode is rejected on its own, with the field and the reason; the rest
of the batch goes on. What makes the whole request unreadable (broken JSON, unknown CSV
columns, too many rows) is refused as a whole, before anything is looked at.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TypeVar

import msgspec

from contracts.errors import Invalid, Malformed, Problem, TooLarge

T = TypeVar("T", bound=msgspec.Struct)

Row = tuple[int, T | None, list[Problem]]

_AT = re.compile(r" - at `\$(?:\[\d+\])?\.?([^`]*)`")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")


def parse_rows(body: bytes, media_type: str, struct: type[T], max_rows: int) -> list[Row]:
    if media_type == "text/csv":
        rows = _csv(body, struct)
    else:
        rows = _json(body, struct)
    if not rows:
        raise Invalid("the batch has no rows", code="empty_batch")
    if len(rows) > max_rows:
        raise TooLarge(f"{len(rows)} rows; one request carries at most {max_rows}")
    return rows


def row_problem(exc: msgspec.ValidationError) -> Problem:
    message = str(exc)
    unknown = _UNKNOWN.search(message)
    if unknown:
        return Problem(code="unknown_field", field=unknown.group(1),
                       message=f"{unknown.group(1)} is not a field Virker takes; "
                               "it was not stored")
    match = _AT.search(message)
    field = match.group(1) if match and match.group(1) else "row"
    return Problem(code="invalid_field", field=field, message=_AT.sub("", message))


def _json(body: bytes, struct: type[T]) -> list[Row]:
    try:
        return [(i, item, []) for i, item in
                enumerate(msgspec.json.decode(body, type=list[struct]), start=1)]
    except msgspec.ValidationError:
        pass  # at least one row is wrong: decode row by row to say which
    except msgspec.DecodeError as exc:
        raise Malformed(f"the body is not valid JSON: {exc}") from None
    try:
        raws = msgspec.json.decode(body, type=list[msgspec.Raw])
    except msgspec.ValidationError:
        raise Invalid("send a JSON array of rows", code="not_an_array") from None
    rows: list[Row] = []
    for i, raw in enumerate(raws, start=1):
        try:
            rows.append((i, msgspec.json.decode(raw, type=struct), []))
        except msgspec.ValidationError as exc:
            rows.append((i, None, [row_problem(exc)]))
    return rows


def _csv(body: bytes, struct: type[T]) -> list[Row]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Malformed("CSV must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    if not header:
        raise Malformed("the CSV has no header row")
    known = set(struct.__struct_fields__)
    required = {f.name for f in msgspec.structs.fields(struct) if f.required}
    header = [h.strip() for h in header]
    reader.fieldnames = header
    unknown = [h for h in header if h not in known]
    if unknown:
        raise Invalid(
            f"columns Virker does not take: {', '.join(unknown)}; nothing was stored",
            code="unknown_columns",
            problems=[Problem(code="unknown_column", field=h,
                              message=f"{h} is not a column Virker takes") for h in unknown])
    missing = sorted(required - set(header))
    if missing:
        raise Invalid(f"missing columns: {', '.join(missing)}", code="missing_columns",
                      problems=[Problem(code="missing_column", field=h,
                                        message=f"the column {h} is required")
                                for h in missing])
    rows: list[Row] = []
    try:
        for i, record in enumerate(reader, start=1):
            if None in record:
                rows.append((i, None, [Problem(code="invalid_field", field="row",
                                               message="more cells than header columns")]))
                continue
            data = {k: v.strip() for k, v in record.items() if v is not None and v.strip()}
            try:
                rows.append((i, msgspec.convert(data, struct, strict=False), []))
            except msgspec.ValidationError as exc:
                rows.append((i, None, [row_problem(exc)]))
    except csv.Error as exc:
        raise Malformed(f"the CSV cannot be read: {exc}") from None
    return rows
