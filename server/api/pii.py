"""PII review: bulk ingestion from pipelines, masked reading, audited reveal, decisions.

Pipelines (publisher or admin tokens) ingest findings with their context, which is encrypted
before it is stored. Staff read findings masked; revealing a raw value needs a reason and is
an audit entry; decisions are keyed by (fingerprint, rule) and hold for every copy.
"""

from __future__ import annotations

from marshmallow import RAISE

from server.api.blueprint import Blueprint
from server.api.preconditions import body_limit
from server.auth import admits, current_principal
from server.schemas_pii import (
    PiiDecisionBatchSchema,
    PiiDecisionReportSchema,
    PiiFindingBatchSchema,
    PiiFindingDetailSchema,
    PiiFindingIngestReportSchema,
    PiiFindingListArgsSchema,
    PiiFindingPageSchema,
    PiiRequestFindingsSchema,
    PiiRevealedSchema,
    PiiRevealSchema,
)
from server.workflows import pii as workflow
from shared.states import ADMIN, PUBLISHER, USER_ROLES

bp = Blueprint("pii", __name__, description="PII and secret findings and reviewers' decisions")


@bp.route("/pii/findings", methods=["POST"])
@body_limit("PII_FINDINGS_MAX_CONTENT_LENGTH")
@admits(PUBLISHER, ADMIN)
@bp.arguments(PiiFindingBatchSchema)
@bp.response(200, PiiFindingIngestReportSchema)
def ingest(body):
    """Store up to 1000 findings with their context (encrypted here); the same file adds nothing."""
    results = workflow.ingest_findings(body["findings"], current_principal().actor)
    counts = {status: 0 for status in ("created", "linked", "unchanged")}
    for result in results:
        counts[result["status"]] += 1
    return {"results": results, **counts}


@bp.route("/pii/findings", methods=["GET"])
@admits(*USER_ROLES)
@bp.arguments(PiiFindingListArgsSchema, location="query", unknown=RAISE)
@bp.response(200, PiiFindingPageSchema)
def list_findings(args):
    """List findings, masked, with their current decision; filtered and paged."""
    flt = workflow.FindingFilter(**args)
    rows, total, next_cursor = workflow.list_findings(flt)
    return {
        "items": _finding_dicts(rows),
        "total": total,
        "page": flt.page,
        "per_page": flt.per_page,
        "next_cursor": next_cursor,
    }


@bp.route("/pii/findings/<int:finding_id>", methods=["GET"])
@admits(*USER_ROLES)
@bp.response(200, PiiFindingDetailSchema)
def read(finding_id):
    """Read a finding with its context (every known value in it masked) and decision history."""
    finding = workflow.get_finding(finding_id)
    data = _finding_dicts([finding])[0]
    data["context"] = workflow.masked_context(finding)
    data["history"] = [
        {
            "from_decision": e.from_decision,
            "to_decision": e.to_decision,
            "actor": e.actor,
            "reason": e.reason,
            "created_at": e.created_at,
        }
        for e in workflow.decision_history(finding)
    ]
    return data


@bp.route("/pii/findings/<int:finding_id>/reveal", methods=["POST"])
@admits(*USER_ROLES)
@bp.arguments(PiiRevealSchema)
@bp.response(200, PiiRevealedSchema)
def reveal(body, finding_id):
    """Return the raw value and context, for a reason; writes a `pii.revealed` audit entry."""
    return workflow.reveal_finding(finding_id, body["reason"], current_principal().actor)


@bp.route("/pii/decisions", methods=["POST"])
@admits(*USER_ROLES)
@bp.arguments(PiiDecisionBatchSchema)
@bp.response(200, PiiDecisionReportSchema)
def decide(body):
    """Decide values by fingerprint and rule (confirmed, false_positive); each change is logged."""
    results = workflow.decide(body["decisions"], current_principal().actor)
    return {
        "results": [
            {
                "fingerprint": r["decision"].fingerprint,
                "rule": r["decision"].rule,
                "decision": r["decision"].decision,
                "previous": r["previous"],
                "status": r["status"],
            }
            for r in results
        ],
        "changed": sum(1 for r in results if r["status"] == "changed"),
    }


@bp.route("/requests/<int:request_id>/pii-findings", methods=["GET"])
@admits(*USER_ROLES)
@bp.response(200, PiiRequestFindingsSchema)
def request_findings(request_id):
    """List the findings (masked) at the file an owner's `file` request names."""
    req, findings = workflow.findings_of_request(request_id)
    return {"request_id": req.id, "path": req.path, "items": _finding_dicts(findings)}


def _finding_dicts(findings) -> list[dict]:
    locations = workflow.locations_of(findings)
    items = []
    for f in findings:
        decision = workflow.current_decision(f)
        items.append(
            {
                **{name: getattr(f, name) for name in _LISTED},
                "decision": None
                if decision is None
                else {
                    "decision": decision.decision,
                    "actor": decision.actor,
                    "decided_at": decision.decided_at,
                },
                "locations": [
                    {"host": loc.host, "owner": loc.owner, "name": loc.name, "path": loc.path}
                    for loc in locations[f.id]
                ],
            }
        )
    return items


_LISTED = (
    "id", "kind", "rule", "tier", "fingerprint", "masked", "content_sha256", "start", "end",
    "line", "column", "created_at",
)  # fmt: skip
