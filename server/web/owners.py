"""The owners' pages: look up, submit and confirm, receipt, status, and actions."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from server.auth import PUBLIC, Principal, admits, owner_principal
from server.db import db
from server.errors import ApiError
from server.limits import lookups, submissions
from server.models import utcnow
from server.serialize import request_dict
from server.web import csrf
from server.web.forms import ActionForm, EmailConfirmForm, LookupForm, RequestForm
from server.workflows import requests as workflow
from server.workflows.email_proofs import confirm_email_proof, start_email_proof
from server.workflows.proofs import (
    candidate_urls,
    challenge_path,
    check_challenges,
    create_challenge,
    list_proofs,
)
from shared import states
from shared.scope import Scope, ScopeError
from shared.scope_parser import parse_one, parse_scopes

bp = Blueprint("owners", __name__)


@bp.before_request
def _csrf() -> None:
    if request.method == "POST":
        csrf.protect()


@bp.get("/")
@admits(PUBLIC)
def index():
    """Landing page: look yourself up, or ask for removal."""
    return render_template("index.html", form=LookupForm(formdata=None))


@bp.get("/lookup")
@lookups
@admits(PUBLIC)
def lookup():
    """Which releases include an account or repository, and which requests cover it."""
    from server.workflows.catalog import lookup as catalog_lookup

    form = LookupForm(request.args)
    result, scope = None, None
    if form.validate():
        try:
            scope, _note = parse_one(
                form.q.data, None, form.host.data or current_app.config["DEFAULT_HOST"]
            )
            if scope.kind not in ("owner", "repository"):
                scope = Scope("repository", scope.host, scope.owner, scope.name)
            result = catalog_lookup(scope.host, scope.owner, scope.name)
        except ScopeError as error:
            form.q.errors.append(error.message)
    status_code = 200 if result is not None else 422
    return render_template("lookup.html", form=form, result=result, scope=scope), status_code


@bp.route("/requests/new", methods=["GET", "POST"])
@submissions
@admits(PUBLIC)
def new_request():
    """The opt-out form; a valid POST creates the requests and shows their receipt."""
    form = RequestForm(request.form if request.method == "POST" else request.args)
    if request.method == "GET":
        form.host.data = form.host.data or current_app.config["DEFAULT_HOST"]
        return render_template("new_request.html", form=form, parsed=[])
    parsed = []
    if form.validate():
        try:
            parsed = parse_scopes(form.scopes.data, form.kind.data, form.host.data)
        except ScopeError as error:
            form.scopes.errors.append(error.message)
        if parsed and all(p.scope for p in parsed):
            created = _create_all(parsed, form.notes.data)
            return render_template("receipt.html", created=created), 201
        form.scopes.errors.extend(f"Line {p.number}: {p.error.message}" for p in parsed if p.error)
    return render_template("new_request.html", form=form, parsed=parsed), 422


def _create_all(parsed, notes: str | None) -> list[dict]:
    """Create one request per parsed line, all or none."""
    created = []
    with db.atomic():
        for line in parsed:
            scope = line.scope
            fields = {
                k: getattr(scope, k)
                for k in ("kind", "host", "owner", "name", "path", "line", "content_sha256")
            }
            req, token = workflow.submit_request({**fields, "notes": notes})
            created.append(
                {
                    "request": request_dict(req, None),
                    "token": token,
                    "link": url_for("owners.status", t=token, _external=True),
                    "note": line.note,
                }
            )
    return created


def _owner_or_404(token: str | None) -> Principal:
    principal = owner_principal(token or "")
    if principal is None:
        # Forged, guessed or mistyped: say nothing about which.
        abort(404)
    return principal


@bp.get("/status")
@admits(PUBLIC)
def status():
    """The secret status page of one request: state, history, next steps."""
    principal = _owner_or_404(request.args.get("t"))
    return _render_status(request.args["t"], principal)


def _render_status(
    token: str,
    principal: Principal,
    error: str | None = None,
    status_code: int = 200,
    check=None,
    notice: str | None = None,
):
    req, proofs = list_proofs(principal.request_id, principal)
    data = request_dict(req, principal, with_history=True)
    form = ActionForm(formdata=None, t=token, etag=data["etag"])
    now = utcnow()
    open_challenges = [
        {"challenge": c, "urls": candidate_urls(req, c.account)}
        for c in proofs["challenges"]
        if c.verified_at is None and c.expires_at > now
    ]
    page = render_template(
        "status.html",
        req=data,
        form=form,
        error=error,
        notice=notice,
        states=states,
        check=check,
        evidence=proofs["evidence"],
        open_challenges=open_challenges,
        challenge_path=challenge_path(),
        email_enabled=bool(current_app.config["SMTP_HOST"]),
    )
    return page, status_code


OWNER_ACTIONS = {
    "confirm": states.CONFIRMED,
    "withdraw": states.WITHDRAWN,
    "info-provided": states.CONFIRMED,
}


@bp.post("/status/<action>")
@admits(PUBLIC)
def act(action: str):
    """Take an owner's action from the status page, then show the page again (PRG)."""
    form = ActionForm(request.form)
    principal = _owner_or_404(form.t.data)
    if not form.validate():
        return _render_status(form.t.data, principal, "The form was incomplete; try again.", 400)
    try:
        if action in OWNER_ACTIONS:
            workflow.transition_request(
                principal.request_id, OWNER_ACTIONS[action], None, principal, {form.etag.data}
            )
        elif action == "reinclusion":
            workflow.request_reinclusion(principal.request_id, principal, {form.etag.data})
        elif action == "challenge":
            create_challenge(principal.request_id, principal, form.account.data or None)
        elif action == "check":
            result = check_challenges(principal.request_id, principal)
            return _render_status(form.t.data, principal, check=result)
        elif action == "email":
            start_email_proof(principal.request_id, principal, form.address.data or "")
            return _render_status(
                form.t.data, principal, notice="We sent a link to that address; open it to confirm."
            )
        else:
            abort(404)
    except ApiError as error:
        return _render_status(form.t.data, principal, _explain(error), error.status)
    return redirect(url_for("owners.status", t=form.t.data), code=303)


@bp.route("/proof/email", methods=["GET", "POST"])
@admits(PUBLIC)
def email_proof():
    """The e-mailed link: GET asks (mail scanners open links), POST confirms."""
    form = EmailConfirmForm(request.form if request.method == "POST" else request.args)
    if request.method == "GET" or not form.validate():
        return render_template("email_proof.html", form=form, done=False)
    confirm_email_proof(form.t.data)
    return render_template("email_proof.html", form=form, done=True)


def _explain(error: ApiError) -> str:
    if error.code == "precondition_failed":
        return (
            "This request changed since you loaded the page (perhaps you already did "
            "this). Here is its current state."
        )
    return error.message[:1].upper() + error.message[1:] + "."
