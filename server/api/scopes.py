"""Parse what an owner pasted into exact scopes, without creating anything (public)."""

from __future__ import annotations

from server.api.blueprint import Blueprint
from server.auth import PUBLIC, admits
from server.errors import ApiError
from server.limits import lookups
from server.schemas import ParsedScopesSchema, ScopeParseSchema
from shared.scope import ScopeError
from shared.scope_parser import parse_scopes

bp = Blueprint("scopes", __name__, description="Scope parsing for pasted addresses")


@bp.route("/scopes/parse", methods=["POST"])
@lookups
@admits(PUBLIC)
@bp.arguments(ScopeParseSchema)
@bp.response(200, ParsedScopesSchema)
def parse(body):
    """Parse URLs, SSH remotes and owner/name lines; each line gives a scope or an error."""
    try:
        parsed = parse_scopes(body["text"], body.get("kind"), body["host"])
    except ScopeError as error:
        raise ApiError(422, error.code, error.message, {"field": "text"}) from None
    lines = []
    for p in parsed:
        scope = None
        if p.scope:
            scope = {k: getattr(p.scope, k) for k in ("kind", "host", "owner", "name", "path",
                                                     "line")}
            scope["describe"] = p.scope.describe()
        error = ({"code": p.error.code, "message": p.error.message, "details": {}}
                 if p.error else None)
        lines.append({"line": p.number, "text": p.text, "scope": scope, "note": p.note,
                      "error": error})
    return {"lines": lines}
