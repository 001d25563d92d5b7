"""The questions asked of every message, one per field of a proposed request.

``extent`` is what keeps the model from widening: a whole-account request is proposed only
when the message itself says how much ("everything", "all my repositories", "the whole
organisation"), never because an account name happens to be the only name found.
"""

from __future__ import annotations

OWNER = "owner"
NAME = "name"
HOST = "host"
PATH = "path"
EXCEPTION = "exception"
EXTENT = "extent"

QUESTIONS: dict[str, str] = {
    OWNER: "Which account or organisation should be removed?",
    NAME: "Which repository?",
    HOST: "On which host?",
    PATH: "Which file?",
    EXCEPTION: "What is excepted?",
    EXTENT: "How much of the account should be removed?",
}
FIELDS: tuple[str, ...] = tuple(QUESTIONS)
