"""Owners' lookup: which dataset releases include an account or repository (public)."""

from __future__ import annotations

from marshmallow import RAISE

from server.api.blueprint import Blueprint
from server.auth import PUBLIC, admits
from server.limits import lookups
from server.schemas import LookupArgsSchema, LookupSchema
from server.workflows import catalog as workflow

bp = Blueprint("catalog", __name__, description="The dataset catalog and owners' lookups")


@bp.route("/lookup", methods=["GET"])
@lookups
@admits(PUBLIC)
@bp.arguments(LookupArgsSchema, location="query", unknown=RAISE)
@bp.response(200, LookupSchema)
def lookup(args):
    """Say which releases include an account (or one repository) and which requests cover it."""
    return workflow.lookup(args["host"], args["owner"], args.get("name"))
