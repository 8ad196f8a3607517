"""Reading batches: a JSON array or CSV with a header row, into Structs row by row.

A row that does not decode is rejected on its own, with the field and the reason; the rest
of the batch goes on. What makes the whole request unreadable or wrong as a whole is refused
as a whole, before anything is looked at, and the same way for JSON and CSV: broken or too
deeply nested JSON, a CSV that cannot be read (an unterminated quote, a duplicated column,
an encoding that is not UTF-8 or Windows-1252), a NUL character anywhere, fields or columns
Virker does not take, too many rows.

CSV is read as spreadsheets write it (README.md, "A provider's day"): comma, semicolon or
tab between cells (the header row says which, or an Excel `sep=` line), a UTF-8 byte order
mark or none, CRLF or LF, UTF-8, UTF-16 with its byte order mark, or Windows-1252 (Danish
and Norwegian Excel's "CSV (semikolonsepareret)"); with semicolons or tabs, a number in a
numeric column may have a decimal comma (`-4,5`).
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
from typing import TypeVar

import msgspec

from contracts import personal
from contracts.errors import Invalid, Malformed, Problem, TooLarge
from contracts.schemas import validation_problem

T = TypeVar("T", bound=msgspec.Struct)

Row = tuple[int, T | None, list[Problem]]

_AT = re.compile(r" - at `\$(?:\[\d+\])?\.?([^`]*)`")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
# Bytes that only UTF-8 writes: a file holding them is UTF-8 gone wrong, not Windows-1252.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
SAVE_AS_UTF8 = ("save it from Excel with File → Save As → \"CSV UTF-8 (comma delimited)\" "
                "(Danish \"CSV UTF-8 (kommasepareret)\", Norwegian \"CSV UTF-8 (kommadelt)\")")


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
        name = personal.mask(unknown.group(1))
        return Problem(code="unknown_field", field=name,
                       message=f"{name} is not a field Virker takes; it was not stored")
    match = _AT.search(message)
    return validation_problem(_AT.sub("", message), match.group(1) if match else "", "row")


def _refuse_unknown(names: list[str], what: str) -> None:
    if names:
        names = [personal.mask(n) or "(no name)" for n in dict.fromkeys(names)]
        raise Invalid(
            f"{what} Virker does not take: {', '.join(names)}; nothing was stored",
            code="unknown_columns",
            problems=[Problem(code="unknown_column", field=n,
                              message=f"{n} is not a {what[:-1]} Virker takes")
                      for n in names])


def _refuse_characters(rows: list[Row]) -> None:
    """A NUL character is refused for the whole batch, as in CSV (where it means a file
    that is not text at all)."""
    bad = [(i, p) for i, _, problems in rows for p in problems
           if p.code == "invalid_character"]
    if bad:
        raise Malformed(f"row {bad[0][0]}: {bad[0][1].field} {bad[0][1].message}; "
                        "nothing was stored", code="invalid_character",
                        problems=[Problem(code=p.code, field=p.field,
                                          message=f"row {i}: {p.message}") for i, p in bad])


# JSON --------------------------------------------------------------------------------------


def _json(body: bytes, struct: type[T]) -> list[Row]:
    try:
        return [(i, item, []) for i, item in
                enumerate(msgspec.json.decode(body, type=list[struct]), start=1)]
    except msgspec.ValidationError:
        pass  # at least one row is wrong: decode row by row to say which
    except msgspec.DecodeError as exc:
        raise Malformed(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise _too_deep() from None
    try:
        raws = msgspec.json.decode(body, type=list[msgspec.Raw])
    except msgspec.ValidationError:
        raise Invalid("send a JSON array of rows", code="not_an_array") from None
    except RecursionError:
        raise _too_deep() from None
    known = set(struct.__struct_fields__)
    rows: list[Row] = []
    unknown: list[str] = []
    for i, raw in enumerate(raws, start=1):
        try:
            rows.append((i, msgspec.json.decode(raw, type=struct), []))
        except msgspec.ValidationError as exc:
            problem = row_problem(exc)
            if problem.code == "unknown_field":
                # Name every unknown field of the row, not only the first msgspec met.
                keys = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
                unknown += [k for k in keys if k not in known]
            rows.append((i, None, [problem]))
        except RecursionError:
            raise _too_deep() from None
    _refuse_unknown(unknown, "fields")
    _refuse_characters(rows)
    return rows


def _too_deep() -> Malformed:
    return Malformed("the JSON is nested too deeply to be a batch of rows",
                     code="invalid_json")


# CSV ---------------------------------------------------------------------------------------


def _line_of(data: bytes | str, offset: int) -> int:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(newline, 0, offset) + 1  # type: ignore[arg-type]


def _text(body: bytes) -> str:
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return body.decode("utf-16")
        except UnicodeDecodeError:
            raise Malformed(f"the CSV starts as UTF-16 but is not; {SAVE_AS_UTF8}",
                            code="invalid_encoding") from None
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = _line_of(body, exc.start)
        if b"\x00" not in body and not _UTF8_SEQUENCE.search(body):
            try:
                return body.decode("cp1252")
            except UnicodeDecodeError:
                pass
        raise Malformed(f"line {line} is neither UTF-8 nor Windows-1252; {SAVE_AS_UTF8}",
                        code="invalid_encoding",
                        problems=[Problem(code="invalid_encoding", field=f"line {line}",
                                          message="not UTF-8")]) from None


def _delimiter(header_line: str) -> str:
    """The delimiter the header row uses: the one of , ; and tab it has most of (column
    names hold none of them), comma when it has none."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@functools.cache
def _numeric_fields(struct: type[msgspec.Struct]) -> frozenset[str]:
    """The fields that may hold a number (and so a decimal comma)."""
    def numeric(t: msgspec.inspect.Type) -> bool:
        if isinstance(t, msgspec.inspect.Metadata):
            return numeric(t.type)
        if isinstance(t, msgspec.inspect.UnionType):
            return any(numeric(u) for u in t.types)
        return isinstance(t, (msgspec.inspect.IntType, msgspec.inspect.FloatType))

    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    return frozenset(f.name for f in info.fields if numeric(f.type))


def _csv(body: bytes, struct: type[T]) -> list[Row]:
    text = _text(body)
    if "\x00" in text:
        line = _line_of(text, text.index("\x00"))
        raise Malformed(f"line {line} holds a NUL character, so this is not a CSV text file; "
                        f"{SAVE_AS_UTF8}", code="invalid_character",
                        problems=[Problem(code="invalid_character", field=f"line {line}",
                                          message="a NUL character (\\u0000)")])
    lines_before = 0
    first, _, rest = text.partition("\n")
    sep = re.fullmatch(r"sep=(.)\r?", first)
    if sep:  # Excel's hint line: "sep=;"
        text, lines_before = rest, 1
        first = text.partition("\n")[0]
    delimiter = sep.group(1) if sep else _delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = _records(reader, lines_before)
    except _CsvError as exc:
        raise Invalid(f"line {exc.line}: {exc.message}; nothing was stored", code="invalid_csv",
                      problems=[Problem(code="invalid_csv", field=f"line {exc.line}",
                                        message=exc.message)]) from None
    if not records:
        raise Malformed("the CSV has no header row")
    header = [h.strip() for h in records[0][1]]
    _check_header(header, struct, records)
    numeric = _numeric_fields(struct) if delimiter != "," else frozenset()
    rows: list[Row] = []
    for _, record in records[1:]:
        if not any(cell.strip() for cell in record):
            continue  # a blank line, or one of only delimiters as Excel leaves them
        i = len(rows) + 1
        extra = record[len(header):]
        if any(cell.strip() for cell in extra):
            rows.append((i, None, [Problem(code="invalid_field", field="row",
                                           message="more cells than header columns")]))
            continue
        data = {}
        for name, cell in zip(header, record, strict=False):
            value = cell.strip()
            if name and value:
                if name in numeric and _DECIMAL_COMMA.fullmatch(value):
                    value = value.replace(",", ".")
                data[name] = value
        try:
            rows.append((i, msgspec.convert(data, struct, strict=False), []))
        except msgspec.ValidationError as exc:
            rows.append((i, None, [row_problem(exc)]))
    return rows


class _CsvError(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message


def _records(reader, lines_before: int) -> list[tuple[int, list[str]]]:
    """Every record with the line it starts on."""
    out = []
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            reason = ("a quoted cell is never closed" if "end of data" in str(exc)
                      else f"the CSV cannot be read here ({exc})")
            raise _CsvError(start + lines_before, reason) from None
        out.append((start + lines_before, record))
        start = reader.line_num + 1


def _check_header(header: list[str], struct: type[T], records: list) -> None:
    line = records[0][0]
    named = [h for h in header if h]
    duplicated = sorted({h for h in named if named.count(h) > 1})
    if duplicated:
        names = [personal.mask(h) for h in duplicated]
        raise Invalid(f"line {line}: the columns {', '.join(names)} appear more than once; "
                      "nothing was stored", code="duplicate_columns",
                      problems=[Problem(code="duplicate_column", field=n,
                                        message=f"line {line}: {n} appears more than once")
                                for n in names])
    # A column without a name is what a spreadsheet leaves after its last column; it is
    # ignored while empty, and unknown once it holds something.
    blank = {i for i, h in enumerate(header) if not h}
    if any(i in blank and cell.strip() for _, record in records[1:]
           for i, cell in enumerate(record)):
        _refuse_unknown([""], "columns")
    known = set(struct.__struct_fields__)
    _refuse_unknown([h for h in named if h not in known], "columns")
    required = {f.name for f in msgspec.structs.fields(struct) if f.required}
    missing = sorted(required - set(named))
    if missing:
        raise Invalid(f"missing columns: {', '.join(missing)}", code="missing_columns",
                      problems=[Problem(code="missing_column", field=h,
                                        message=f"the column {h} is required")
                                for h in missing])
