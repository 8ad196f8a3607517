"""Every error leaves Virker as RFC 9457 problem+json with a stable `code`.

Domain errors map by class; Litestar's own (validation, 404, 405, 413, …) by status. A database
that cannot be reached is a 503 with Retry-After, so that clients retry instead of giving
up. Any other unexpected exception is logged and answered with a 500 problem that reveals
nothing; the test suite treats any 500 as a bug.

Bad input is refused as what it is, never as a 500: a body's Struct that refused a personal
identifier is 422 `personal_identifier`, a NUL character 400 `invalid_character` (also when
one in a path or query parameter reaches PostgreSQL, which cannot hold it), JSON nested too
deeply to decode 400 `invalid_json`. No
problem echoes a personal identifier: whatever a problem says, its path included, passes
through contracts.personal.mask.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from contracts import personal
from contracts.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    Invalid,
    Malformed,
    NotFound,
    Problem,
    TooLarge,
    Unauthenticated,
    Unavailable,
)
from contracts.schemas import validation_problem

log = logging.getLogger("virker.api")

PROBLEM_JSON = "application/problem+json"

DOMAIN_STATUS: dict[type[DomainError], int] = {
    Invalid: 422,
    NotFound: 404,
    Forbidden: 403,
    Unauthenticated: 401,
    Conflict: 409,
    Gone: 410,
    Malformed: 400,
    TooLarge: 413,
    Unavailable: 503,
}

STATUS_CODES = {
    400: "malformed_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


# Paths whose next part is a capability, an invitation link's token: neither a problem nor
# a log line shows it.
TOKEN_IN_PATH = re.compile(r"(/api/v1/answer/|/voice/)[^/?#\s\"]*")


def without_token(path: str) -> str:
    """`path` with a link's token cut out."""
    return TOKEN_IN_PATH.sub("\\1…", path)


class ProblemDetails(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: str
    title: str
    status: int
    code: str
    detail: str = ""
    instance: str = ""
    errors: list[Problem] = []


def problem(request: Request | None, status: int, code: str, detail: str = "",
            errors: list[Problem] | None = None,
            headers: dict[str, str] | None = None) -> Response[ProblemDetails]:
    if request is not None:
        from api.web.errors import error_page, is_page  # the web UI's pages answer in HTML

        if is_page(request):
            return error_page(request, status, code, personal.mask(detail), errors or [],
                              headers)
    body = ProblemDetails(
        type=f"https://virker.dk/problems/{code}",
        title=TITLES.get(status, "Error"),
        status=status,
        code=code,
        detail=personal.mask(detail),
        instance=personal.mask(without_token(request.url.path)) if request is not None
        else "",
        errors=[Problem(code=e.code, field=personal.mask(e.field),
                        message=personal.mask(e.message)) for e in errors or []],
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def on_domain_error(request: Request, exc: DomainError) -> Response:
    status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(request, status, exc.code, exc.message, exc.problems, headers)


_AT = re.compile(r" - at `\$\.?([^`]*)`")
# Problems that say more than "invalid": the first found names the whole response.
# A NUL is refused as the document says (no text may hold one: 400); a personal identifier,
# and money written as 1000.0 (an integer by JSON Schema's rules), break rules it cannot
# state (422).
SPECIFIC = {"personal_identifier": 422, "invalid_character": 400, "invalid_terms": 422}


def on_validation_error(request: Request, exc: ValidationException) -> Response:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        message = str(item.get("message", "")) if isinstance(item, dict) else str(item)
        key = item.get("key") if isinstance(item, dict) else None
        match = _AT.search(message)
        at = match.group(1) if match else ("" if key in (None, "data") else str(key))
        errors.append(validation_problem(_AT.sub("", message), at, "body"))
    code, status = next(((e.code, SPECIFIC[e.code]) for e in errors if e.code in SPECIFIC),
                        ("validation_error", 400))
    detail = errors[0].message if len(errors) == 1 else "the request is not valid"
    if code != "validation_error":
        detail = f"{errors[0].field}: {errors[0].message}" if len(errors) == 1 else detail
    return problem(request, status, code, detail, errors)


def on_http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if status >= 500:
        log.error("server error on %s: %s", without_token(request.url.path), exc.detail)
        return problem(request, status, "internal_error", "something went wrong on our side")
    code = STATUS_CODES.get(status, "client_error")
    return problem(request, status, code, str(exc.detail or ""), headers=exc.headers)


# Errors that say the database cannot be reached now, not that a query is wrong.
PG_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # class 08, e.g. ConnectionDoesNotExistError
    asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InvalidCatalogNameError,  # the database named in the URL does not exist
    asyncpg.InvalidAuthorizationSpecificationError,  # the server refused our login
)
# asyncpg's InterfaceError is mostly misuse (a bug); these messages are the lost connection.
PG_GONE = ("connection is closed", "pool is closed", "pool is closing")
# sqlite3.OperationalError is also "no such table" and the like; these are the file.
SQLITE_UNAVAILABLE = ("unable to open database", "database is locked",
                      "database table is locked", "disk i/o error")
DRIVERS = ("asyncpg", "piccolo.engine", "aiosqlite")
RETRY_AFTER_SECONDS = 5


def _raised_in(exc: BaseException, modules: tuple[str, ...]) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(modules):
            return True
        tb = tb.tb_next
    return False


def _raised_by_driver(exc: BaseException) -> bool:
    return _raised_in(exc, DRIVERS)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is out of reach (down, restarting, full, locked,
    gone mid-request), as opposed to a query that is wrong."""
    if isinstance(exc, PG_UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return any(m in str(exc) for m in PG_GONE)
    if isinstance(exc, sqlite3.OperationalError):
        return any(m in str(exc).lower() for m in SQLITE_UNAVAILABLE)
    # A refused or broken socket, a host that does not resolve: an OSError from inside the
    # driver (the application itself does no other network or file I/O in a request).
    return isinstance(exc, OSError) and _raised_by_driver(exc)


def on_database_error(request: Request, exc: Exception) -> Response:
    if not database_unavailable(exc):
        return on_unexpected(request, exc)
    log.error("database unavailable on %s: %s: %s", without_token(request.url.path),
              type(exc).__name__, exc)
    return problem(request, 503, "database_unavailable",
                   "the database cannot be reached just now; try again shortly",
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


# Where a request's JSON is decoded: a RecursionError raised there is the body's depth.
DECODERS = ("litestar.serialization", "litestar._signature", "litestar._kwargs",
            "outcomes.parsing")


def on_recursion_error(request: Request, exc: RecursionError) -> Response:
    if not _raised_in(exc, DECODERS):
        return on_unexpected(request, exc)
    return problem(request, 400, "invalid_json",
                   "the JSON is nested too deeply; Virker's requests are a few levels deep")


def on_data_error(request: Request, exc: Exception) -> Response:
    """PostgreSQL refuses a NUL character (and any byte it cannot keep) in a text: a path or
    query parameter the input Structs never saw. Nothing was written: the statement failed."""
    return problem(request, 400, "invalid_character",
                   "the request holds a character no text in Virker may hold (a NUL, \\u0000)")


def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", without_token(request.url.path),
                  exc_info=exc)
    return problem(request, 500, "internal_error", "something went wrong on our side")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: on_domain_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_exception,
    **{cls: on_database_error for cls in (*PG_UNAVAILABLE, asyncpg.InterfaceError,
                                          sqlite3.OperationalError, OSError)},
    asyncpg.CharacterNotInRepertoireError: on_data_error,
    asyncpg.UntranslatableCharacterError: on_data_error,
    RecursionError: on_recursion_error,
    Exception: on_unexpected,
}
