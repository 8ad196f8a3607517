"""Domain errors. Services raise these; `api.errors` alone turns them into HTTP responses.

Each error carries a stable `code` that clients can rely on, and optionally a list of
field-level problems (`Problem`), one per thing that is wrong.
"""

from __future__ import annotations

import msgspec


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    field: str
    message: str


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None,
                 problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.problems = problems or []


class Invalid(DomainError):
    """The request is well-formed but breaks a rule (HTTP 422)."""

    code = "invalid"


class NotFound(DomainError):
    """Does not exist, or the caller may not know that it exists (HTTP 404)."""

    code = "not_found"


class Forbidden(DomainError):
    """The caller may see the thing but not do this to it (HTTP 403)."""

    code = "forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Conflict(DomainError):
    """The request clashes with what is already recorded (HTTP 409)."""

    code = "conflict"


class Gone(DomainError):
    """Existed, and can no longer be used: an expired or used invitation link (HTTP 410)."""

    code = "gone"


class Malformed(DomainError):
    """The request cannot be read at all: broken JSON, not UTF-8, no header row (HTTP 400)."""

    code = "malformed_request"


class TooLarge(DomainError):
    """More rows than one request may carry (HTTP 413)."""

    code = "too_many_rows"


class Unavailable(DomainError):
    """Could not be done now; the same request may succeed later."""

    code = "unavailable"
