"""Verify the server's audit log from the desktop (no Qt here: it runs in a worker thread).

The check is ``shared.log_client.verify_remote`` against the state this app saved the last
time (the checkpoint it saw, the log's compact range, the pinned key): the new checkpoint must
be signed by a trusted key, consistent with the old one, and the entries added since must
hash to its root. Then each chosen entry is fetched and proved included in the new tree, so
an entry rewritten in place after it was first verified is caught too. On the first run the
server's current key is pinned (trust on first use) and the report says so.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from shared import merkle
from shared.client import OptoutClient
from shared.log_client import LogClient, LogVerificationError, State, verify_remote
from shared.note import Checkpoint


@dataclass
class AuditReport:
    size: int
    previous_size: int | None
    pinned_now: str | None = None
    included: list[int] = field(default_factory=list)


def checkpoint_of(note: str) -> Checkpoint:
    return Checkpoint.parse(note[: note.index("\n\n") + 1])


def verify_audit_log(client: OptoutClient, state_path: Path, chosen: list[int]) -> AuditReport:
    """Verify the log against the saved state, then the inclusion of the ``chosen`` entries.

    Raises:
        LogVerificationError: the server's history does not match what was verified before
            (``rollback``, ``fork``, ``inconsistent``, ``root_mismatch``, ``not_included``,
            ``bad_signature`` …) or it could not be checked.
    """
    state = State.load(state_path)
    pinned_now, trust, origin = None, None, None
    if state is None:
        keys = LogClient(client.base_url, client.session).keys()
        pinned_now, trust, origin = keys["current"], [keys["current"]], keys["origin"]
    new_state = verify_remote(client.base_url, state_path, trust, origin)
    root = checkpoint_of(new_state.note or "").root_hash
    report = AuditReport(new_state.size, state.size if state else None, pinned_now)
    for index in sorted(set(chosen)):
        if not 0 <= index < new_state.size:
            continue
        _check_inclusion(client, index, new_state.size, root)
        report.included.append(index)
    return report


def _check_inclusion(client: OptoutClient, index: int, size: int, root: bytes) -> None:
    entries = client.audit_entries(index, index + 1)
    if not entries or entries[0]["index"] != index:
        raise LogVerificationError("entries_missing", f"the server did not return entry {index}")
    leaf = merkle.leaf_hash(entries[0]["entry"].encode("utf-8"))
    proof = client.audit_inclusion_proof(index, size)["proof"]
    try:
        merkle.verify_inclusion(leaf, index, size, [base64.b64decode(p) for p in proof], root)
    except (merkle.ProofError, ValueError) as error:
        raise LogVerificationError(
            "not_included", f"entry {index} as served now is not the entry the log holds: {error}"
        ) from None
