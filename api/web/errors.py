"""Errors on a page are pages: a request to the web UI that is refused gets an HTML page in
the reader's language with what went wrong and where to go, not problem+json. Without a
session it is sent to sign in, and back afterwards. The status and the problem's stable
code are the API's."""

from __future__ import annotations

from litestar import Request
from litestar.response import Redirect, Response, Template

from api.web import i18n
from api.web.layout import login_redirect, navigation
from contracts.errors import Problem

TITLES = {
    400: "The request could not be read", 401: "Please sign in",
    403: "You may not do this", 404: "Not found", 405: "Not allowed here",
    409: "This cannot be done now", 413: "Too large", 422: "Please check what you entered",
    429: "Too many attempts", 503: "Virker is unavailable just now",
}


NOT_PAGES = ("/api/", "/auth/", "/schema", "/health", "/static/")


def is_page(request: Request) -> bool:
    """A page's route, or a browser asking for a page at an address that has none."""
    handler = request.scope.get("route_handler")
    if handler is not None and handler.opt.get("web"):
        return True
    path = request.url.path
    return (not path.startswith(NOT_PAGES)
            and "text/html" in request.headers.get("accept", ""))


def error_page(request: Request, status: int, code: str, detail: str,
               errors: list[Problem], headers: dict[str, str] | None) -> Response:
    if status == 401:
        return Redirect(login_redirect(request), status_code=303)
    user = request.scope.get("user")
    role = getattr(user, "role", None)
    title = i18n._(TITLES.get(status, "Something went wrong"))
    return Template("web/error.html", status_code=status, headers=headers, context={
        "me": None, "signed_in": role is not None, "nav": navigation(role) if role else [],
        "path": _without_token(request.url.path), "lang": i18n.current.get(), "title": title,
        "status": status, "code": code, "detail": detail, "errors": errors})


def _without_token(path: str) -> str:
    """The path as a page may repeat it: a survey link's token cut out."""
    from api.errors import without_token

    return without_token(path)
