"""Opaque keyset-paging cursors: the sort, and the sort value and id of a page's last row.

A cursor is base64url (unpadded) of the JSON array ``[sort, value, id]``; dates travel as
ISO 8601 strings. Clients treat it as opaque. It carries nothing secret (the caller could
read that row anyway), so it is not signed; anything malformed, or a cursor made for
another sort order, is refused as ``invalid_cursor`` rather than guessed at.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from server.errors import ApiError

MAX_ID = 2**63 - 1


def encode(sort: str, value, row_id: int) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps([sort, value, row_id], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, sort: str, kind: type) -> tuple[str | int | dt.datetime, int]:
    """Return (value, id) of the row to continue after; ApiError 422 when it cannot be.

    ``kind`` is the sort column's type: ``dt.datetime``, ``int`` or ``str``, or a tuple of
    ``str`` for a sort over several text columns (the value is then a tuple).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, value, row_id = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise _invalid("this is not a cursor this server gave") from None
    if made_for != sort:
        raise _invalid(f"the cursor was made for sort={made_for!r}, not sort={sort!r}")
    if type(row_id) is not int or not 0 <= row_id <= MAX_ID:
        raise _invalid("this is not a cursor this server gave")
    if kind is dt.datetime:
        try:
            value = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise _invalid("this is not a cursor this server gave") from None
        if value.tzinfo is not None:
            raise _invalid("this is not a cursor this server gave")
    elif isinstance(kind, tuple):
        if not isinstance(value, list) or len(value) != len(kind):
            raise _invalid("this is not a cursor this server gave")
        if not all(_plain_text(part) for part in value):
            raise _invalid("this is not a cursor this server gave")
        value = tuple(value)
    elif kind is int:
        if type(value) is not int or not 0 <= value <= MAX_ID:
            raise _invalid("this is not a cursor this server gave")
    elif not _plain_text(value):
        raise _invalid("this is not a cursor this server gave")
    return value, row_id


def keyset_page(query, *, page, per_page, after, sort, kind, beyond, position):
    """One page of an ordered peewee query: by offset (``page``) or after a cursor.

    ``beyond(value, row_id)`` is the condition for rows after the cursor's row in the
    query's order; ``position(row)`` gives a row's ``(value, id)`` for the next cursor.
    Returns the rows and the next cursor (None on the last page).
    """
    if after is not None:
        if page != 1:
            raise _invalid("send either a cursor (after) or a page")
        query = query.where(beyond(*decode(after, sort, kind)))
    else:
        query = query.offset((page - 1) * per_page)
    rows = list(query.limit(per_page + 1))
    more, rows = len(rows) > per_page, rows[:per_page]
    return rows, (encode(sort, *position(rows[-1])) if rows and more else None)


def _plain_text(value) -> bool:
    return isinstance(value, str) and len(value) <= 300 and "\x00" not in value


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_cursor", message, {"field": "after"})
