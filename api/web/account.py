"""The reader's language: chosen on any page, remembered on the user (and in the session)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

from api.auth import session_user_id
from api.web import i18n
from api.web.layout import SESSION_LANGUAGE, WEB, safe_next
from contracts.tables import AppUser


@post("/language", opt={**WEB, "exclude_from_auth": True}, include_in_schema=False,
      status_code=303)
async def choose_language(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    lang = str(data.get("lang", ""))
    if lang in i18n.LANGUAGES:
        session = request.scope.get("session")
        user_id = session_user_id(session)
        if isinstance(session, dict):
            request.set_session({**session, SESSION_LANGUAGE: lang})
        if user_id is not None:
            await AppUser.update({AppUser.language: lang}).where(AppUser.id == user_id)
    return Redirect(safe_next(str(data.get("next", "/"))), status_code=303)
