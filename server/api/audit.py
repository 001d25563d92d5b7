"""The public audit log: checkpoint, entries, proofs and the keys that sign."""

from __future__ import annotations

import base64
import binascii

from marshmallow import RAISE

from server import auditlog, checkpoints
from server.api.blueprint import Blueprint
from server.auth import PUBLIC, admits
from server.errors import ApiError
from server.schemas import (
    CheckpointSchema,
    ConsistencyArgsSchema,
    ConsistencyProofSchema,
    EntryRangeArgsSchema,
    EntryRangeSchema,
    InclusionArgsSchema,
    InclusionProofSchema,
    VerifierKeysSchema,
)
from server.serialize import as_utc

bp = Blueprint("audit", __name__, description="The signed, tamper-evident audit log")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@bp.route("/audit/checkpoint", methods=["GET"])
@admits(PUBLIC)
@bp.response(200, CheckpointSchema)
def checkpoint():
    """The latest signed checkpoint (a new one is signed when the log has grown)."""
    cp = checkpoints.publish()
    return {"note": cp.note, "size": cp.size, "root_hash": _b64(bytes(cp.root_hash))}


@bp.route("/audit/entries", methods=["GET"])
@admits(PUBLIC)
@bp.arguments(EntryRangeArgsSchema, location="query", unknown=RAISE)
@bp.response(200, EntryRangeSchema)
def entries(args):
    """Entries ``[start, end)``, byte for byte as they were hashed."""
    rows = auditlog.entries(args["start"], args["end"])
    return {"entries": [{"index": r.index, "entry": bytes(r.entry).decode("utf-8"),
                         "leaf_hash": _b64(bytes(r.leaf_hash))} for r in rows]}


@bp.route("/audit/proof/inclusion", methods=["GET"])
@admits(PUBLIC)
@bp.arguments(InclusionArgsSchema, location="query", unknown=RAISE)
@bp.response(200, InclusionProofSchema)
def inclusion(args):
    """Inclusion proof of one entry (by index or leaf hash) in the tree of a given size."""
    size = args["size"]
    if ("index" in args) == ("leaf_hash" in args):
        raise ApiError(422, "index_or_leaf_hash", "give exactly one of index and leaf_hash")
    if "leaf_hash" in args:
        try:
            leaf = base64.b64decode(args["leaf_hash"], validate=True)
        except binascii.Error:
            raise ApiError(422, "invalid_leaf_hash", "leaf_hash must be base64") from None
        index = auditlog.index_of_leaf(leaf, size)
    else:
        index = args["index"]
    proof = auditlog.inclusion_proof(index, size)
    leaf = auditlog.entry_leaf(index)
    return {"index": index, "size": size, "leaf_hash": _b64(leaf),
            "proof": [_b64(h) for h in proof]}


@bp.route("/audit/proof/consistency", methods=["GET"])
@admits(PUBLIC)
@bp.arguments(ConsistencyArgsSchema, location="query", unknown=RAISE)
@bp.response(200, ConsistencyProofSchema)
def consistency(args):
    """Consistency proof from the tree of size ``old`` to the tree of size ``new``."""
    proof = auditlog.consistency_proof(args["old"], args["new"])
    return {"old": args["old"], "new": args["new"], "proof": [_b64(h) for h in proof]}


@bp.route("/audit/keys", methods=["GET"])
@admits(PUBLIC)
@bp.response(200, VerifierKeysSchema)
def keys():
    """The verifier key that signs now, and every retired key with its rotation note."""
    data = checkpoints.verifier_keys()
    for row in data["retired"]:
        row["retired_at"] = as_utc(row["retired_at"])
    return data
