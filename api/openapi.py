"""The OpenAPI document, made to say what the API does.

Litestar builds the document from the routes: their parameters, bodies and success
responses. What it cannot see from a signature is said here, in one place, for every
operation:

- each error the operation can answer, as RFC 9457 `application/problem+json` with the body
  `api.errors` writes (`ProblemDetails`) and the headers that come with it (WWW-Authenticate
  on 401, Retry-After on 429 and 503). Litestar's own 400 body, which Virker never sends,
  goes.
- JSON bodies, sent and received, as msgspec describes them (it decodes and encodes them;
  Litestar's schemas drop constraints on optional fields and let unknown fields through),
  with what every request Struct checks besides (contracts.schemas.Input): no NUL in any
  text, dates from 1900 to 2200.
- the batch endpoints' bodies, which their handlers read themselves: a JSON array of rows or
  text/csv; the Idempotency-Key request header where a route reads one, the replayed answer
  (200) beside the first (201), and the Idempotent-Replayed response header.
- that /auth/me, /auth/logout and /auth/password take an API key or the web UI's session.

Which errors an operation can answer follows from its shape (a query or a body can be
unreadable, a path id can name nothing, authentication, the auditors' guard, CSRF, the
media-type check, free text that may hold a personal identifier) and, for the refusals its
service makes (409, 422, …), from REFUSALS, one line per operation. Only statuses the server
can answer are listed: tests/api/test_openapi.py holds REFUSALS to the routes, and
schemathesis (tests/api/test_schemathesis.py) holds the document to the server.

The document is served by the render plugins below, which amend Litestar's on first use.
"""

from __future__ import annotations

import copy
import re
from typing import Any, get_args, get_origin

import msgspec
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.handlers import HTTPRouteHandler
from litestar.middleware.base import DefineMiddleware
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RapidocRenderPlugin,
    RedocRenderPlugin,
    StoplightRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.routes import HTTPRoute

from api.auth import IDEMPOTENCY_KEY, auditors_read_only
from api.errors import PROBLEM_JSON, ProblemDetails
from api.routes.voice import answer_row
from contracts.schemas import Input
from outcomes.schemas import MAX_ROWS, ClaimIn, ParticipantIn

Document = dict[str, Any]

# What each operation's service may refuse with, beyond what its shape implies (see
# `answers`). Every operation in the document has a line; test_openapi.py checks both ways.
REFUSALS: dict[str, tuple[int, ...]] = {
    "GET /health": (),
    "POST /auth/login": (401, 429),  # invalid_credentials; too_many_attempts
    "POST /auth/logout": (),
    "POST /auth/password": (422, 429),  # wrong_password, weak_password; too_many_attempts
    "GET /auth/me": (),
    "GET /api/v1/organisations": (),
    "POST /api/v1/organisations": (409,),  # identifier taken
    "GET /api/v1/organisations/{org_id}": (),
    "GET /api/v1/organisations/{org_id}/balance": (),
    "GET /api/v1/users": (),
    "POST /api/v1/users": (409, 422),  # email_taken; unknown_organisation, weak_password
    "POST /api/v1/users/{user_id}/activate": (),
    "POST /api/v1/users/{user_id}/deactivate": (),
    "GET /api/v1/api-keys": (),
    "POST /api/v1/api-keys": (422,),  # organisation_required, unknown organisation
    "DELETE /api/v1/api-keys/{key_id}": (),
    "GET /api/v1/metrics": (),
    "POST /api/v1/metrics": (409, 422),  # metric_code_taken; invalid_metric
    "GET /api/v1/metrics/{code}": (),
    "GET /api/v1/contracts": (422,),  # invalid_cursor
    "POST /api/v1/contracts": (409, 422),  # reference taken; invalid_terms
    "GET /api/v1/contracts/{contract_id}": (),
    "GET /api/v1/contracts/{contract_id}/variations": (),
    "POST /api/v1/contracts/{contract_id}/variations": (409, 422),
    "GET /api/v1/contracts/{contract_id}/proposals": (),
    "GET /api/v1/contracts/{contract_id}/proposals/{proposal_id}": (),
    "POST /api/v1/contracts/{contract_id}/proposals/{proposal_id}/accept": (409, 422),
    "POST /api/v1/contracts/{contract_id}/proposals/{proposal_id}/withdraw": (409,),
    "GET /api/v1/contracts/{contract_id}/acceptances": (),
    "POST /api/v1/contracts/{contract_id}/acceptances": (409,),  # not a draft; old version
    "GET /api/v1/contracts/{contract_id}/events": (),
    "POST /api/v1/contracts/{contract_id}/activate": (409,),  # acceptance_missing, …
    "POST /api/v1/contracts/{contract_id}/suspend": (409,),  # invalid_transition
    "POST /api/v1/contracts/{contract_id}/resume": (409,),
    "POST /api/v1/contracts/{contract_id}/close": (409,),
    "POST /api/v1/contracts/{contract_id}/participants": (409, 422),
    "GET /api/v1/contracts/{contract_id}/participants": (422,),  # invalid_cursor
    "POST /api/v1/contracts/{contract_id}/claims": (409, 422),
    "GET /api/v1/contracts/{contract_id}/claims": (422,),  # invalid_cursor
    "GET /api/v1/contracts/{contract_id}/batches/{batch_id}": (),
    "GET /api/v1/contracts/{contract_id}/batches": (422,),  # invalid_cursor
    "GET /api/v1/batches/{batch_id}": (),
    "POST /api/v1/contracts/{contract_id}/samples": (409,),  # nothing_to_sample
    "GET /api/v1/contracts/{contract_id}/samples": (),
    "GET /api/v1/contracts/{contract_id}/effect": (),
    "GET /api/v1/comparisons/{subject}": (),  # subject_not_found
    "GET /api/v1/comparisons/{subject}/funnel.svg": (),  # subject_not_found
    "GET /api/v1/contracts/{contract_id}/effect.pdf": (),
    # commissioner_only, not_your_organisation; organisation_id needed (administrators)
    "GET /api/v1/portfolio/effect.pdf": (403, 422),
    "GET /api/v1/advice/{subject}": (403,),  # commissioner_only
    "GET /api/v1/advice/{subject}/decisions": (403,),  # commissioner_only
    "POST /api/v1/advice/{subject}/decisions": (422,),  # justification_required
    "GET /api/v1/contracts/{contract_id}/forecast": (),
    "GET /api/v1/forecast": (403, 422),  # not_your_organisation; admin names none
    "POST /api/v1/contracts/{contract_id}/approvals": (409,),  # not_approvable, caps
    # not_a_cohort_line, cohort_not_due, contract_not_active, after_claims_deadline, caps
    "POST /api/v1/contracts/{contract_id}/cohorts/{line_code}/evaluation": (409,),
    "GET /api/v1/contracts/{contract_id}/cohort-evaluations": (),
    "GET /api/v1/claims/{claim_id}": (),
    "POST /api/v1/claims/{claim_id}/verify": (409,),
    "POST /api/v1/claims/{claim_id}/dispute": (409,),
    "POST /api/v1/claims/{claim_id}/clawback": (409,),
    "GET /api/v1/contracts/{contract_id}/balance": (),
    "GET /api/v1/ledger/verify": (403,),  # auditor_only
    "POST /api/v1/contracts/{contract_id}/payment-runs": (409, 422),  # period_inverted
    "GET /api/v1/contracts/{contract_id}/payment-runs": (),
    "GET /api/v1/payment-runs/{run_id}": (),
    "GET /api/v1/payment-runs/{run_id}/claims": (),
    "POST /api/v1/payment-runs/{run_id}/approve": (409,),
    "POST /api/v1/payment-runs/{run_id}/pay": (409,),
    "GET /api/v1/contracts/{contract_id}/statement.pdf": (422,),  # invalid_period, …
    "GET /api/v1/payment-runs/{run_id}/remittance.pdf": (409,),  # run_not_paid
    "GET /api/v1/instruments": (),
    # commissioner_only; instrument_exists (added before: 409; one Virker ships: 422),
    # reserved_item_code, invalid_scale, duplicate_item
    "POST /api/v1/instruments": (403, 409, 422),
    "GET /api/v1/contracts/{contract_id}/waves": (),
    "POST /api/v1/contracts/{contract_id}/waves": (422,),  # wave_dates, days_required, …
    "GET /api/v1/waves/{wave_id}": (),
    "POST /api/v1/waves/{wave_id}/answer-back": (),
    "POST /api/v1/waves/{wave_id}/invitations": (409,),  # wave_not_open
    # idempotency_key_reused, contract_not_active; idempotency_key_required, unknown_columns
    "POST /api/v1/contracts/{contract_id}/waves/{wave_id}/responses": (409, 422),
    "GET /api/v1/contracts/{contract_id}/comments": (),
    "POST /api/v1/comments/{response_id}/moderation": (),
    "GET /api/v1/contracts/{contract_id}/voice-deletions": (),
    "POST /api/v1/contracts/{contract_id}/voice-deletions": (),  # participant_not_found
    "GET /api/v1/contracts/{contract_id}/voice": (),
    "GET /api/v1/answer/{token}": (410,),  # invitation_used, invitation_expired
    # already_answered; invitation_used, invitation_expired; unknown_item, answer_out_of_range
    "POST /api/v1/answer/{token}": (409, 410, 422),
    # commissioner_only (include=private by another party); not_published
    "GET /api/v1/contracts/{contract_id}/exports/ocds.json": (403, 409),
    "GET /api/v1/contracts/{contract_id}/exports/indigo.json": (403, 409),
    "GET /api/v1/contracts/{contract_id}/exports/360giving.json": (403, 409),  # no_grants
    "GET /api/v1/open-data/ocds.json": (409,),  # nothing_published
    "GET /api/v1/open-data/indigo.json": (409,),
    "GET /api/v1/open-data/360giving.json": (409,),  # no_grants
    "GET /api/v1/open-data/contracts/{contract_id}/ocds.json": (),
    "GET /api/v1/open-data/contracts/{contract_id}/indigo.json": (),
    "GET /api/v1/open-data/contracts/{contract_id}/360giving.json": (409,),  # no_grants
    "GET /api/v1/contracts/{contract_id}/publication": (),
    # commissioner_only; unknown_part
    "PUT /api/v1/contracts/{contract_id}/publication": (403, 422),
    "GET /api/v1/what-works": (),
    "GET /api/v1/what-works/{subject}": (),  # subject_not_found
    # invalid_cursor, currency_required, price_range_inverted, unknown_currency
    "GET /api/v1/reference/projects": (422,),
    "GET /api/v1/reference/projects/{code}": (422,),  # unknown_currency
    # commissioner_only; reference taken, metric_code_taken; no_exchange_rate, invalid_terms,
    # unknown_reference_metric, unknown_metric, unknown_currency
    "POST /api/v1/reference/projects/{code}/draft": (403, 409, 422),
    "GET /api/v1/reference/sectors": (),
    "GET /api/v1/reference/rates": (),
}

# Batch endpoints: the rows their handlers decode from JSON or CSV (outcomes.parsing).
BATCHES: dict[str, type[msgspec.Struct]] = {
    "POST /api/v1/contracts/{contract_id}/participants": ParticipantIn,
    "POST /api/v1/contracts/{contract_id}/claims": ClaimIn,
}
# Batch endpoints whose columns depend on what the batch is for (a survey wave's instrument):
# the columns every batch has; each further column is an item's answer, a whole number.
OPEN_BATCHES: dict[str, type[msgspec.Struct]] = {
    "POST /api/v1/contracts/{contract_id}/waves/{wave_id}/responses": answer_row(),
}
ITEM_ANSWER = {"anyOf": [{"type": "integer"}, {"type": "null"}],
               "description": "an answer to the item of this code of the wave's instrument"}
# Operations that read an Idempotency-Key (api.auth.idempotency_key): whether it is required.
IDEMPOTENT: dict[str, bool] = {
    "POST /api/v1/contracts/{contract_id}/participants": False,
    "POST /api/v1/contracts/{contract_id}/claims": True,  # idempotency_key_required
    "POST /api/v1/contracts/{contract_id}/payment-runs": False,
    "POST /api/v1/contracts/{contract_id}/waves/{wave_id}/responses": True,
}
# Operations that say whether they replayed an earlier answer (Idempotent-Replayed).
REPLAY_HEADER = set(BATCHES) | set(OPEN_BATCHES)

ERRORS: dict[int, str] = {
    400: "The request cannot be read: a parameter or the body is not what this document "
         "says (`validation_error`), or the body is not valid JSON or CSV "
         "(`malformed_request`).",
    401: "No valid credentials: no API key, an unknown or revoked one (`invalid_api_key`) or "
         "a malformed Authorization header (`invalid_authorization`).",
    403: "Not yours to do: the wrong role on the contract (`commissioner_only`, "
         "`provider_only`, …), an auditor writing (`read_only`), an administrator's task "
         "(`admin_only`), or a web form without its CSRF token.",
    404: "Does not exist, or you may not know that it exists.",
    410: "No longer usable: a link that has taken its one answer (`invitation_used`) or is "
         "past its expiry (`invitation_expired`).",
    409: "Clashes with what is recorded: a state that does not allow it "
         "(`invalid_transition`, …) or an Idempotency-Key used for another request "
         "(`idempotency_key_reused`). The `code` says which.",
    413: "The body is larger than this operation takes (`payload_too_large`), or carries "
         "more rows than one request may (`too_many_rows`).",
    415: "A Content-Type this operation does not take (`unsupported_media_type`).",
    422: "Well-formed but against a rule; `errors` names each field and the rule it breaks.",
    429: "Too many failed attempts (`too_many_attempts`); Retry-After says when to try again.",
    503: "Could not be done now (`database_unavailable`, `unavailable`); the same request "
         "may succeed later.",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "required": True,
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before trying again.",
                          "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    503: {"Retry-After": {"description": "Seconds to wait before trying again, when known.",
                          "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
}
REPLAYED = {"Idempotent-Replayed": {
    "description": "`true` when this is the answer given earlier to the same Idempotency-Key "
                   "and body, `false` when the request was carried out now.",
    "required": True, "schema": {"type": "string", "enum": ["true", "false"]}}}

# No text in Virker holds a NUL character (contracts.schemas.check_text).
NO_NUL = "^[^\\x00]*$"
# A date from contracts.schemas.FIRST_DAY (1900-01-01) to LAST_DAY (2200-12-31), each a real
# day; test_openapi.py checks this against every day from 1899 to 2201.
_YEAR = "(19[0-9]{2}|2[01][0-9]{2}|2200)"
_LEAP = "((19|20|21)(0[48]|[2468][048]|[13579][26])|2000)"
_DAY = ("(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)"
        "|(0[13578]|1[02])-31")
DATE_IN_RANGE = f"^({_YEAR}-({_DAY})|{_LEAP}-02-29)$"
# What outcomes.parsing can read as CSV at all: a header row first, no NUL anywhere; the
# rest (known columns, cells) is judged as 422 or row by row in the report.
CSV_READABLE = "^[^\\r\\n\\x00][^\\x00]*$"
WRITES = ("post", "put", "patch", "delete")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def amend(document: Document, app: Litestar) -> Document:
    """A copy of Litestar's `document` for `app`, made true (see the module's docstring)."""
    doc = copy.deepcopy(document)
    handlers = _handlers(app)
    _bodies(doc, handlers)
    session = _session_cookie(app)
    if session:
        doc["components"].setdefault("securitySchemes", {})["session"] = {
            "type": "apiKey", "in": "cookie", "name": session,
            "description": "The web UI's session, set by POST /auth/login"}
    for key, op in _operations(doc):
        method, path = key.split(" ", 1)
        handler = handlers[key]
        if key in BATCHES:
            op["requestBody"] = _batch_body(BATCHES[key])
        if key in OPEN_BATCHES:
            op["requestBody"] = _batch_body(OPEN_BATCHES[key], items=True)
        if key in IDEMPOTENT:
            op.setdefault("parameters", []).append(_idempotency_key(IDEMPOTENT[key]))
        _replays(op, key)
        _query(op)
        _binary(op)
        if _authenticated(handler) and "security" not in op:
            op["security"] = [{"apiKey": []}, *([{"session": []}] if session else [])]
        responses = op.setdefault("responses", {})
        responses.pop("400", None)  # Litestar's ValidationException body
        for status in sorted(answers(app, method.lower(), path, op, handler)):
            responses[str(status)] = _problem(status)
    _prune(doc)
    return doc


def answers(app: Litestar, method: str, path: str, op: Document,
            handler: HTTPRouteHandler) -> set[int]:
    """The error statuses the operation can answer."""
    from api.app import require_json_body  # api.app imports this module

    key = f"{method.upper()} {path}"
    # An operation without a line is served with what its shape implies; test_openapi.py
    # fails until it has one.
    found = set(REFUSALS.get(key, ())) | {503}  # every operation reads the database
    params = op.get("parameters", [])
    body = "requestBody" in op
    if body or any(p.get("in") == "query" for p in params):
        found.add(400)
    if _authenticated(handler):
        found.add(401)
    guards = [getattr(g, "func", g) for g in handler.resolve_guards()]  # sync ones wrapped
    if method in WRITES and (auditors_read_only in guards
                             or _csrf_protected(app.csrf_config, path, handler)):
        found.add(403)
    if any(p.get("in") == "path" for p in params):
        found.add(404)
    if body:
        found.add(413)
    if (method in ("post", "put", "patch") and path.startswith("/api/")
            and getattr(hook := handler.resolve_before_request(), "func", hook)
            is require_json_body):
        found.add(415)
    if key in IDEMPOTENT:
        found.add(422)  # invalid_idempotency_key
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is not None and any(getattr(cls, "free_text", ()) for cls in
                                _structs([data.annotation]).values()):
        found.add(422)  # personal_identifier in free text
    return found


def _handlers(app: Litestar) -> dict[str, HTTPRouteHandler]:
    out = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                out[f"{method.upper()} {route.path_format or '/'}"] = handler
    return out


def _authenticated(handler: HTTPRouteHandler) -> bool:
    # api.auth.AuthenticationMiddleware: every route but those excluded by their opt.
    return not handler.opt.get("exclude_from_auth")


def _csrf_protected(config: CSRFConfig | None, path: str, handler: HTTPRouteHandler) -> bool:
    if config is None or handler.opt.get(config.exclude_from_csrf_key):
        return False
    excluded = [config.exclude] if isinstance(config.exclude, str) else config.exclude or []
    return not any(re.search(pattern, path) for pattern in excluded)


def _session_cookie(app: Litestar) -> str | None:
    """The session middleware's cookie name, if the app has one."""
    for middleware in app.middleware:
        backend = middleware.kwargs.get("backend") if isinstance(middleware,
                                                                  DefineMiddleware) else None
        key = getattr(getattr(backend, "config", None), "key", None)
        if isinstance(key, str):
            return key
    return None


def _bodies(doc: Document, handlers: dict[str, HTTPRouteHandler]) -> None:
    """Describe JSON bodies, sent and received, by msgspec's JSON Schema: msgspec decodes and
    encodes them, so its schema says exactly what is taken and given (constraints on optional
    fields, unknown fields refused, Decimal as text), where Litestar's approximates."""
    slots: list[tuple[Document, Any]] = []  # (a media type object, the Python type there)
    for key, op in _operations(doc):
        handler = handlers[key]
        data = handler.parsed_fn_signature.parameters.get("data")
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if data is not None and body is not None:
            slots.append((body, data.annotation))
            if data.has_default:  # the handler takes no body at all, too
                op["requestBody"]["required"] = False
        returned = {str(handler.status_code): _unwrap(
            handler.parsed_fn_signature.return_type.annotation)}
        for status, spec in (handler.responses or {}).items():
            returned[str(status)] = spec.data_container
        for status, python_type in returned.items():
            content = op.get("responses", {}).get(status, {}).get("content", {})
            for media_type, media in content.items():
                if _is_json(media_type) and _encodable(python_type):
                    slots.append((media, python_type))
    extra = [ProblemDetails, *BATCHES.values(), *OPEN_BATCHES.values()]
    schemas, components = msgspec.json.schema_components(
        [t for _, t in slots] + extra, ref_template="#/components/schemas/{name}")
    for (media, _), schema in zip(slots, schemas, strict=False):
        media["schema"] = schema
        media.pop("examples", None)
    _published(components)
    _ecma_patterns(components)
    structs = _structs([t for _, t in slots] + extra)
    for name, schema in components.items():
        if isinstance(structs.get(name), type) and issubclass(structs[name], Input):
            _input_rules(schema)
    for rows in OPEN_BATCHES.values():
        components[rows.__name__]["additionalProperties"] = ITEM_ANSWER
    kept = doc.setdefault("components", {}).get("schemas", {})
    doc["components"]["schemas"] = {**kept, **components}


def _published(node: Any) -> None:
    """Where a type declares what Litestar should publish for it (`extra` in its
    extra_json_schema, as contracts.money's Amount does: decoded wide, refused unless an
    integer), publish that instead of the wide type msgspec decodes."""
    if isinstance(node, list):
        for item in node:
            _published(item)
    elif isinstance(node, dict):
        extra = node.pop("extra", None)
        if isinstance(extra, dict):
            for key, value in extra.items():
                name = _camel(key)
                if value is None:
                    node.pop(name, None)
                    if name == "oneOf":  # msgspec writes a union as anyOf
                        node.pop("anyOf", None)
                else:
                    node[name] = value
        for value in node.values():
            _published(value)


# Python's \s, which msgspec applies, spelled out: ECMA-262's (the document's) is narrower.
_PY_SPACE = (r"\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
             r"\u3000")


def _ecma_patterns(node: Any) -> None:
    """Patterns as the document's readers (ECMA-262) would read them the way msgspec (Python's
    re) does: `\\s` spelled out."""
    if isinstance(node, list):
        for item in node:
            _ecma_patterns(item)
    elif isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            node["pattern"] = _ecma(node["pattern"])
        for key, value in node.items():
            if key != "pattern":
                _ecma_patterns(value)


def _ecma(pattern: str) -> str:
    out, i, in_class = [], 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            pair = pattern[i:i + 2]
            out.append((_PY_SPACE if in_class else f"[{_PY_SPACE}]") if pair == "\\s" else pair)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _structs(types: list[Any]) -> dict[str, type[msgspec.Struct]]:
    """Every Struct class reachable from `types`, by the name msgspec gives its schema."""
    found: dict[str, type[msgspec.Struct]] = {}
    clashes: set[str] = set()
    todo: list[Any] = list(msgspec.inspect.multi_type_info(types))
    seen: set[int] = set()
    while todo:
        info = todo.pop()
        if id(info) in seen:
            continue
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            name = info.cls.__name__
            if found.get(name, info.cls) is not info.cls:
                clashes.add(name)
            found[name] = info.cls
            todo.extend(f.type for f in info.fields)
        for attr in ("type", "item_type", "key_type", "value_type"):
            if isinstance(getattr(info, attr, None), msgspec.inspect.Type):
                todo.append(getattr(info, attr))
        todo.extend(getattr(info, "types", ()) or ())
        todo.extend(getattr(info, "item_types", ()) or ())
    return {name: cls for name, cls in found.items() if name not in clashes}


def _input_rules(schema: Document) -> None:
    """What contracts.schemas.Input checks beyond its fields' types, on every request body
    and batch row: no text holds a NUL character (400 `invalid_character`), no date lies
    outside FIRST_DAY..LAST_DAY (400 `invalid_date`)."""
    for prop in schema.get("properties", {}).values():
        for leaf in _leaves(prop):
            if leaf.get("type") != "string" or "enum" in leaf:
                continue
            if leaf.get("format") == "date":
                leaf["pattern"] = DATE_IN_RANGE
            elif "pattern" not in leaf and "format" not in leaf:
                leaf["pattern"] = NO_NUL


def _leaves(schema: Document):
    yield schema
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _leaves(branch)
    if isinstance(schema.get("items"), dict):
        yield from _leaves(schema["items"])


def _unwrap(annotation: Any) -> Any:
    """The body type of a handler's return annotation: T for Response[T]."""
    if get_origin(annotation) is Response:
        return get_args(annotation)[0]
    return annotation


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _encodable(python_type: Any) -> bool:
    if python_type in (bytes, type(None), Any) or python_type is Response:
        return False
    try:
        msgspec.json.schema(python_type)
    except (TypeError, ValueError):
        return False
    return True


def _prune(doc: Document) -> None:
    """Drop component schemas nothing refers to any more (Litestar's, replaced above)."""
    schemas = doc["components"]["schemas"]
    prefix = "#/components/schemas/"
    seen: set[str] = set()
    todo = [{k: v for k, v in doc.items() if k != "components"},
            {k: v for k, v in doc["components"].items() if k != "schemas"}]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                name = ref[len(prefix):]
                if name not in seen and name in schemas:
                    seen.add(name)
                    todo.append(schemas[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    doc["components"]["schemas"] = {k: v for k, v in schemas.items() if k in seen}


def _operations(doc: Document):
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def _problem(status: int) -> Document:
    response: Document = {
        "description": ERRORS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
    }
    if status in HEADERS:
        response["headers"] = copy.deepcopy(HEADERS[status])
    return response


def _batch_body(rows: type[msgspec.Struct], items: bool = False) -> Document:
    name, columns = rows.__name__, ", ".join(rows.__struct_fields__)
    if items:
        columns += " and one per item code of the instrument"
    return {
        "required": True,
        "description": f"Up to {MAX_ROWS} rows, as a JSON array or as CSV with a header row "
                       f"(columns: {columns}). A row that is not a valid {name} does not "
                       "fail the batch: the report rejects it with its reasons.",
        "content": {
            "application/json": {"schema": {
                "type": "array", "minItems": 1, "maxItems": MAX_ROWS,
                "items": {"$ref": f"#/components/schemas/{name}"}}},
            "text/csv": {"schema": {
                "type": "string", "pattern": CSV_READABLE,
                "description": f"UTF-8: a header row naming some of {columns}, then one "
                               "row per line"}},
        },
    }


def _idempotency_key(required: bool) -> Document:
    return {
        "name": "Idempotency-Key", "in": "header", "required": required,
        "description": "Your key for this request: the same key with the same body returns "
                       "the first answer again, with another body 409 "
                       "`idempotency_key_reused`. Keys never expire.",
        "schema": {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
    }


def _query(op: Document) -> None:
    """A page's cursor is the `next_cursor` of the page before: a UUID (else 422
    `invalid_cursor`). No text a query carries may hold a NUL character (400)."""
    for param in op.get("parameters", []):
        if param.get("in") != "query":
            continue
        if param.get("name") == "cursor":
            param["schema"] = {"type": "string", "format": "uuid"}
            param["description"] = "`next_cursor` of the page before; none for the first"
        elif not param.get("required"):
            param["schema"] = _nullable(param.get("schema", {}))
        for leaf in _leaves(param.get("schema", {})):
            if (leaf.get("type") == "string"
                    and not {"pattern", "format", "enum"} & set(leaf)):
                leaf["pattern"] = NO_NUL


def _nullable(schema: Document) -> Document:
    """An optional query parameter may be left out or sent as `null`, which Litestar reads
    as left out: the value's own schema, or null."""
    schema = dict(schema)
    if isinstance(schema.get("type"), list):
        types = [t for t in schema["type"] if t != "null"]
        schema["type"] = types[0] if len(types) == 1 else types
    if "enum" in schema:
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    branches: list[Document] = []
    for key in ("oneOf", "anyOf"):
        branches += [b for b in schema.pop(key, []) if b != {"type": "null"}]
    if branches:
        schema.update(branches[0] if len(branches) == 1 else {"anyOf": branches})
    meta = {k: schema.pop(k) for k in ("description", "default") if k in schema}
    return {"anyOf": [schema, {"type": "null"}], **meta}


def _binary(op: Document) -> None:
    """Documents (PDF) are bytes, not text."""
    for response in op.get("responses", {}).values():
        for media_type, media in response.get("content", {}).items():
            if not _is_json(media_type) and media.get("schema") == {"type": "string"}:
                media["schema"] = {"type": "string", "format": "binary"}


def _replays(op: Document, key: str) -> None:
    """An idempotent create answers 201 the first time and 200 with the same body when the
    request is repeated."""
    responses = op.get("responses", {})
    if key not in IDEMPOTENT or "201" not in responses:
        return
    first = responses["201"]
    if key in REPLAY_HEADER:
        first.setdefault("headers", {}).update(copy.deepcopy(REPLAYED))
    again = copy.deepcopy(first)
    again["description"] = "The answer given earlier to the same Idempotency-Key and body"
    responses.setdefault("200", again)


class _Amended:
    """Serve the amended document. Litestar builds its document once per app and hands the
    same dict to every render; the amended copy is made once per plugin."""

    _source: Document | None = None
    _amended: Document | None = None

    def render(self, request: Request, openapi_schema: Document) -> bytes:
        if self._source is not openapi_schema:
            self._amended = amend(openapi_schema, request.app)
            self._source = openapi_schema
        return super().render(request, self._amended)  # type: ignore[misc]


class _Json(_Amended, JsonRenderPlugin):
    pass


class _Yaml(_Amended, YamlRenderPlugin):
    pass


class _Redoc(_Amended, RedocRenderPlugin):
    pass


class _Swagger(_Amended, SwaggerRenderPlugin):
    pass


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The pages Litestar served by default (Redoc at /schema), each showing the amended
    document; Rapidoc and Elements load it from /schema/openapi.json."""
    return [_Redoc(), _Json(), _Yaml(path=["/openapi.yaml", "/openapi.yml"]), _Swagger(),
            RapidocRenderPlugin(), StoplightRenderPlugin(path="/elements")]


def document(app: Litestar) -> Document:
    """The document as /schema/openapi.json serves it."""
    return amend(app.openapi_schema.to_schema(), app)
