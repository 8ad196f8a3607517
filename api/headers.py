"""The headers every answer carries, set in one place: Litestar's before_send hook sees every
response, the ones its router makes for unknown paths and the problem+json of every error
included.

- Every answer: `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`.
- Every HTML page: a Content-Security-Policy that lets it run no script but its own files
  (no inline script, nothing from elsewhere), be framed by nobody, and post forms only to
  Virker; and `X-Frame-Options: DENY` for browsers that predate frame-ancestors. Styles may
  be inline (the templates carry their CSS). The API documentation at /schema is a page made
  by Litestar from a CDN's script; it alone may load that.
- Nothing under /api/ is kept in any cache (`Cache-Control: no-store`), whatever a route
  said; other answers get the same unless they set a Cache-Control of their own (static
  files may), since the pages show what a signed-in user may see.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")
# What Litestar's documentation page (Redoc) loads: its script and an inline call to it,
# Google's fonts, a logo from jsDelivr, and a worker it makes from a blob.
DOCS_POLICY = ("default-src 'self'; "
               "script-src 'self' 'unsafe-inline' https://cdn.redoc.ly https://cdn.jsdelivr.net; "
               "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; "
               "font-src 'self' data: https://fonts.gstatic.com; "
               "img-src 'self' data: https://cdn.jsdelivr.net https://cdn.redoc.ly; "
               "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'")
EVERY_ANSWER = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


async def web_defaults(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    path = scope.get("path", "")
    for name, value in EVERY_ANSWER.items():
        if name not in headers:
            headers[name] = value
    if path.startswith("/api/") or "cache-control" not in headers:
        headers["cache-control"] = "no-store"
    if headers.get("content-type", "").startswith("text/html"):
        headers["content-security-policy"] = (DOCS_POLICY if path.startswith("/schema")
                                              else PAGE_POLICY)
        headers["x-frame-options"] = "DENY"


async def allow_every_method(message: Message, scope: Scope) -> None:
    """An OPTIONS answer names every method of its path. Litestar 2 lists only the methods
    of one of the path's handlers (GET missing where a path also takes POST:
    litestar-org/litestar#4169), which tells a client the API cannot do what it can."""
    if (message["type"] != "http.response.start" or scope.get("method") != "OPTIONS"
            or message["status"] != 204 or "path_template" not in scope):
        return
    template = scope["path_template"]
    route = next((r for r in scope["app"].routes if template in (r.path, r.path_format)),
                 None)
    if route is not None:
        MutableScopeHeaders.from_message(message)["allow"] = ", ".join(sorted(route.methods))
