"""What of a contract is public: one row per part (what it makes public, its status, who
decided and when) and, for the contract's commissioners, a form to publish parts or take them
back, which asks for a confirmation before anything becomes public. The same services as
GET and PUT /api/v1/contracts/{id}/publication; the form works without JavaScript.

The contract's parties see the page; its commissioners decide (anyone else: 404, as in the
API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from api.auth import principal_of
from api.web import i18n
from api.web.admin import status_of
from api.web.layout import WEB, page
from contracts import service as contracts
from contracts.errors import DomainError, Forbidden, NotFound
from core.settings import get_settings
from opendata import publication
from opendata.publication import PublicationIn, PublicationOut

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass
class PartView:
    part: str
    name: str
    meaning: str
    status: str
    decided_by: str | None
    decided_at: Any


def part_texts() -> dict[str, tuple[str, str]]:
    """Each part's name and what it makes public, in the reader's language."""
    _ = i18n._
    k = get_settings().small_cell_k
    return {
        "contract": (_("The contract"), _(
            "That the contract exists: its reference, title, parties, dates, status, currency"
            " and cap. Without it, nothing else of the contract is shown.")),
        "rate_card": (_("Rate card"), _(
            "Each outcome the contract pays for, with its price and its rules.")),
        "targets": (_("Targets"), _("The agreed targets and baselines per outcome.")),
        "results": (_("Results"), _(
            "Outcomes achieved, rates with their intervals and effect, with figures about "
            "fewer than %(k)s people suppressed.", k=k)),
        "payments": (_("Payments"), _(
            "The payments made, with their dates and amounts; on the public pages also the "
            "money paid per outcome and the cost per outcome, when the results and the rate "
            "card are public too.")),
        "voice": (_("Citizen voice"), _(
            "Response rates and scores of the surveys, with figures about fewer than %(k)s "
            "people suppressed, and your “you said, we did”.", k=k)),
    }


def _views(out: PublicationOut) -> list[PartView]:
    texts = part_texts()
    return [PartView(part=p.part, name=texts.get(p.part, (p.part, p.meaning))[0],
                     meaning=texts.get(p.part, (p.part, p.meaning))[1], status=p.status,
                     decided_by=p.decided_by, decided_at=p.decided_at) for p in out.parts]


async def _context(request: Request, contract_id: UUID) -> dict[str, Any]:
    principal = principal_of(request)
    out = await publication.publication(principal, contract_id)
    _, rel = await contracts.relation(principal, contract_id)
    contract = await contracts.get_contract(principal, contract_id)
    views = _views(out)
    status = {v.part: v.status for v in views}
    return dict(contract=contract, parts=views, can_decide=rel == "commissioner",
                shown=status.get("contract") == "public", confirm=None, checked=set(),
                problem=None, k=get_settings().small_cell_k,
                title=i18n._("What is public: %(reference)s", reference=contract.reference))


@get("/contracts/{contract_id:uuid}/publication", opt=WEB, include_in_schema=False)
async def publication_page(request: Request, contract_id: FromPath[UUID],
                           done: FromQuery[str | None] = None) -> Template:
    context = await _context(request, contract_id)
    flash = i18n._("Saved. The public pages show what is public now.") if done else None
    return await page(request, "web/publication.html", flash=flash, **context)


def _checked(data: dict[str, Any]) -> list[str]:
    value = data.get("public", [])
    values = [value] if isinstance(value, str) else list(value or [])
    return list(dict.fromkeys(str(v) for v in values))


@post("/contracts/{contract_id:uuid}/publication", opt=WEB, include_in_schema=False)
async def decide(request: Request, contract_id: FromPath[UUID], data: Form) -> Response:
    """The parts ticked become public, the others private. When a part would become public,
    the page first shows what will be public and asks to confirm."""
    principal = principal_of(request)
    context = await _context(request, contract_id)
    if not context["can_decide"]:
        raise Forbidden("only the contract's commissioners publish it",
                        code="commissioner_only")
    checked = _checked(data)
    current = {v.part: v.status for v in context["parts"]}
    wanted = {p: "public" if p in checked else "private" for p in publication.PARTS}
    wanted.update({p: "public" for p in checked if p not in publication.PARTS})
    changes = {p: s for p, s in wanted.items() if current.get(p, "private") != s}
    newly = [p for p, s in changes.items() if s == "public"]
    if newly and data.get("confirmed") != "yes":
        texts = part_texts()
        context.update(confirm=[texts.get(p, (p, "")) for p in newly],
                       checked=set(checked),
                       after_contract=wanted.get("contract") == "public")
        return await page(request, "web/publication.html", **context)
    if changes:
        try:
            await publication.decide(principal, contract_id, PublicationIn(parts=changes))
        except DomainError as exc:
            if isinstance(exc, Forbidden | NotFound):
                raise
            context.update(problem=exc)
            return await page(request, "web/publication.html", status_code=status_of(exc),
                              **context)
    return Redirect(f"/contracts/{contract_id}/publication?done=1", status_code=303)


ROUTES = [publication_page, decide]
