"""Every error leaves Virker as RFC 9457 problem+json with a stable `code`.

Domain errors map by class; Litestar's own (validation, 404, 405, 413, …) by status. A database
that cannot be reached is a 503 with Retry-After, so that clients retry instead of giving
up. Any other unexpected exception is logged and answered with a 500 problem that reveals
nothing; the test suite treats any 500 as a bug.
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

from contracts.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    Problem,
    TooLarge,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("virker.api")

PROBLEM_JSON = "application/problem+json"

DOMAIN_STATUS: dict[type[DomainError], int] = {
    Invalid: 422,
    NotFound: 404,
    Forbidden: 403,
    Unauthenticated: 401,
    Conflict: 409,
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
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal error",
    503: "Service unavailable",
}


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
    body = ProblemDetails(
        type=f"https://virker.dk/problems/{code}",
        title=TITLES.get(status, "Error"),
        status=status,
        code=code,
        detail=detail,
        instance=request.url.path if request is not None else "",
        errors=errors or [],
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def on_domain_error(request: Request, exc: DomainError) -> Response:
    status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(request, status, exc.code, exc.message, exc.problems, headers)


_AT = re.compile(r" - at `\$\.?([^`]*)`")


def on_validation_error(request: Request, exc: ValidationException) -> Response:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        message = str(item.get("message", "")) if isinstance(item, dict) else str(item)
        key = item.get("key") if isinstance(item, dict) else None
        match = _AT.search(message)
        field = match.group(1) if match else (key or "body")
        message = _AT.sub("", message)
        errors.append(Problem(code="invalid_field", field=field or "body", message=message))
    detail = errors[0].message if len(errors) == 1 else "the request is not valid"
    return problem(request, 400, "validation_error", detail, errors)


def on_http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if status >= 500:
        log.error("server error on %s: %s", request.url.path, exc.detail)
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


def _raised_by_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(DRIVERS):
            return True
        tb = tb.tb_next
    return False


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
    log.error("database unavailable on %s: %s: %s", request.url.path,
              type(exc).__name__, exc)
    return problem(request, 503, "database_unavailable",
                   "the database cannot be reached just now; try again shortly",
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return problem(request, 500, "internal_error", "something went wrong on our side")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: on_domain_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_exception,
    **{cls: on_database_error for cls in (*PG_UNAVAILABLE, asyncpg.InterfaceError,
                                          sqlite3.OperationalError, OSError)},
    Exception: on_unexpected,
}
