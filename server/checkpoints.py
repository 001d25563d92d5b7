"""Signed checkpoints of the audit log, the signing key, and its rotation.

The instance's Ed25519 key signs C2SP checkpoints under the name ``ORIGIN``. Every published
checkpoint is stored. A rotation is itself a log entry, announced by a note that both the old
and the new key sign; the first checkpoint after it carries both signatures, so a client that
pinned the old key can follow to the new one.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import current_app

from server import auditlog
from server.audit import record_action
from server.db import db
from server.errors import ApiError
from server.models import LogCheckpoint, RetiredKey, utcnow
from shared import keys
from shared.note import Checkpoint, NoteError, Signer, Verifier, open_note, sign_note

ROTATION_HEADER = "optout key rotation"


def origin() -> str:
    return current_app.config["ORIGIN"]


def signer(path: str | os.PathLike | None = None) -> Signer:
    try:
        key = keys.load_private_key(path or current_app.config["SIGNING_KEY_FILE"])
    except keys.KeyFileError as error:
        raise ApiError(503, "signing_key_unavailable",
                       "the log's signing key is missing or unsafe; see 'optout keys init'",
                       {"reason": str(error)}) from None
    return Signer(origin(), key)


def verifier_keys() -> dict:
    """The key that signs now and every retired one, with the notes that retired them."""
    retired = [{"verifier": r.verifier, "retired_at": r.retired_at,
                "rotation_note": r.rotation_note, "entry_index": r.entry_index}
               for r in RetiredKey.select().order_by(RetiredKey.id)]
    return {"origin": origin(), "current": str(signer().verifier), "retired": retired}


def trusted_verifiers(pinned: Verifier) -> list[Verifier]:
    """Follow the rotation notes from the current key back; each must carry both signatures.

    A key row an intruder adds to the database is not trusted: it would need the note signed
    by the key it claims to replace.
    """
    trusted = [pinned]
    for row in RetiredKey.select().order_by(RetiredKey.id.desc()):
        old = Verifier(row.verifier)
        text, verified = open_note(row.rotation_note.encode(), [old, trusted[-1]])
        if set(verified) != {old, trusted[-1]} or f"old {old}\n" not in text:
            raise NoteError(f"the rotation note of {old.name} is not signed by both keys")
        trusted.append(old)
    return trusted


def latest() -> LogCheckpoint | None:
    return LogCheckpoint.select().order_by(LogCheckpoint.id.desc()).first()


def publish(extra_signers: tuple[Signer, ...] = ()) -> LogCheckpoint:
    """Sign and store a checkpoint of the log as it is now (or return the one that is)."""
    with db.atomic():
        size = auditlog.locked_size()
        newest = latest()
        if newest is not None and newest.size == size and not extra_signers:
            return newest
        root = auditlog.root_at(size)
        note = sign_note(Checkpoint(origin(), size, root).format(), [signer(), *extra_signers])
        return LogCheckpoint.create(size=size, root_hash=root, note=note.decode(),
                                    created_at=utcnow())


def rotate_key(actor: str) -> tuple[str, str]:
    """Replace the signing key; return (old, new) verifier keys.

    The new key is written beside the old one first; the database records the rotation;
    only then does the new file take the old one's place, and the old one is kept, renamed.
    """
    path = Path(current_app.config["SIGNING_KEY_FILE"])
    old = signer(path)
    staged = path.with_name(path.name + ".new")
    staged.unlink(missing_ok=True)
    new = Signer(origin(), keys.create_private_key(staged))
    try:
        with db.atomic():
            index = record_action(actor, "key.rotated", f"key:{new.key_id.hex()}",
                                  details={"old": str(old.verifier), "new": str(new.verifier)},
                                  sequenced=True)
            text = (f"{ROTATION_HEADER}\n{origin()}\nold {old.verifier}\nnew {new.verifier}\n"
                    f"entry {index}\n")
            note = sign_note(text, [old, new]).decode()
            RetiredKey.create(verifier=str(old.verifier), rotation_note=note,
                              entry_index=index, retired_at=utcnow())
            size = auditlog.locked_size()
            root = auditlog.root_at(size)
            both = sign_note(Checkpoint(origin(), size, root).format(), [new, old]).decode()
            LogCheckpoint.create(size=size, root_hash=root, note=both, created_at=utcnow())
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    retired = path.with_name(f"{path.name}.{old.key_id.hex()}.retired")
    os.replace(path, retired)
    os.replace(staged, path)
    return str(old.verifier), str(new.verifier)
