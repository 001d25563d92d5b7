"""The QA model's answers, validated: what may fill a field of a proposal, and why not.

A model reads spans; a request needs names. An answer becomes a field only when it passes
the same checks as a typed scope, does not cut an identifier in two, is not a plain word of
the sentence, and is not claimed by two fields at once. Anything else is refused (and the
reason reported), never repaired or guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.intake.candidates import PLAIN_FILE_NAMES
from shared.intake.questions import EXCEPTION, EXTENT, HOST, NAME, OWNER, PATH
from shared.intake.spans import Answer
from shared.scope import ScopeError, check_name, check_owner, check_path
from shared.scope import normalize_host as _normalize_host


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


HOST_ALIASES = {
    "github": "github.com",
    "gitlab": "gitlab.com",
    "codeberg": "codeberg.org",
    "bitbucket": "bitbucket.org",
    "gitea": "gitea.com",
    "huggingface": "huggingface.co",
    "hugging face": "huggingface.co",
}
_DNS = re.compile(r"(?i)\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b")
_SPACE = re.compile(r"\s")
# Words a reading model may pick around a name; never an account or repository by themselves.
NOT_NAMES = _words(
    "called named repo repos repository repositories project projects account user "
    "username organisation organization org group namespace workspace team the my our "
    "this that it me i we you github gitlab codeberg bitbucket gitea sourcehut file "
    "handle owner pls please thanks thx branch commit tree blob "
    # English function words: a reading model that lands beside a name picks them up
    # ("the scraper repo by ivanov-d" read as the repository "by").
    "a an and or nor of by in on at to for from with into onto about can could should "
    "would will shall may might must is are was were be been being it its as if so not "
    "no yes also just only all any some every each his her their them they he she your "
    "yours mine ours personal private public rest stay"
)
# Words that turn "everything" around: "not everything, only blog", "I don't want all".
_NEGATED = re.compile(r"(?i)(\b(?:not|no|never|nor)|n't|n’t)(\s+\w+)?\W*$")
# Top-level domains a forge is likely to sit under; "lena.schmidt" is a name, not a host.
HOST_TLDS = _words(
    "com org net io dev co app ai eu de fr uk nl ch at be se no dk fi es it pl cz pt ie "
    "us ca au nz jp kr cn in br edu gov ht sh xyz tech cloud page site"
)
# Words that keep part of what a whole-account request would remove.
EXCEPT_WORDS = re.compile(
    r"(?i)\b(except|excepting|excluding|apart from|but not|other than|besides|save for|"
    r"but keep|keep\b[^.]*\bthough)"
)


@dataclass(frozen=True)
class FieldValue:
    """One field of a proposal with the text that supports it."""

    value: str | int
    text: str
    start: int | None
    end: int | None
    confidence: float
    source: str  # "parser", "model", "rule" (a cue word) or "default" (the caller's host)

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "confidence": round(self.confidence, 4),
            "source": self.source,
        }


def normalize_host_answer(text: str) -> str | None:
    """Map "GitLab", "gitlab.com" or "our instance git.example.org" to a host, or None."""
    cleaned = re.sub(r"[^a-z0-9. -]", "", text.lower()).strip(" .")
    cleaned = re.sub(r"^(the|our|my)\s+", "", cleaned)
    if cleaned in HOST_ALIASES:
        return HOST_ALIASES[cleaned]
    for word in cleaned.split():
        if word in HOST_ALIASES:
            return HOST_ALIASES[word]
    match = _DNS.search(cleaned)
    if match and match.group(0).rsplit(".", 1)[-1] in HOST_TLDS:
        try:
            return _normalize_host(match.group(0))
        except ScopeError:
            return None
    return None


def _clean_name(text: str) -> str:
    text = text.strip().strip("\"'`“”‘’()[]<>.,;:")
    if text.endswith("'s"):
        text = text[:-2]
    return text.lstrip("@")


def _clean_path(text: str) -> str:
    """Like a name, but a leading dot is part of the file (".env"); a leading / is not."""
    return text.strip().strip("\"'`“”‘’()[]<>,;:").rstrip(".").lstrip("/")


def model_fields(
    answers: dict[str, Answer], text: str = ""
) -> tuple[dict[str, FieldValue], dict[str, str]]:
    """Validate the model's answers; return usable fields and, per refused field, why.

    Beyond the scope checks: a span that cuts an identifier ("eiro" of "ana-ribeiro"), a
    name that is a plain word of the sentence ("called", "repo"), and two fields claiming
    the same words (owner and repository both "jluna") are refused, not repaired.
    """
    usable: dict[str, FieldValue] = {}
    refused: dict[str, str] = {}
    checks = {
        HOST: normalize_host_answer,
        OWNER: lambda t: check_owner(_clean_name(t)),
        NAME: lambda t: check_name(_clean_name(t)),
        PATH: lambda t: check_path(_clean_path(t)) if not _SPACE.search(t) else "",
        EXTENT: lambda t: t.strip(),
        EXCEPTION: lambda t: t.strip(),
    }
    for key, answer in answers.items():
        if answer.abstained or key not in checks:
            continue
        try:
            value = checks[key](answer.text)
        except ScopeError as error:
            refused[key] = error.message
            continue
        if not value:
            refused[key] = f"{answer.text!r} is not a {key}"
        elif key in (OWNER, NAME, PATH) and _cuts_a_word(text, answer):
            refused[key] = f"{answer.text!r} is part of a longer word"
        elif key in (OWNER, NAME, PATH) and str(value).lower() in NOT_NAMES:
            refused[key] = f"{answer.text!r} is a word of the sentence, not a {key}"
        elif key == PATH and not _looks_like_a_file(str(value)):
            refused[key] = f"{answer.text!r} does not look like a file path"
        elif key == EXTENT and _NEGATED.search(text[: answer.start or 0][-30:]):
            refused[key] = f"the message says not {answer.text!r}"
        else:
            usable[key] = FieldValue(
                value, answer.text, answer.start, answer.end, answer.confidence, "model"
            )
    if EXCEPTION in usable and not EXCEPT_WORDS.search(text):
        # The model reads what is kept; the words of the message must say something is.
        refused[EXCEPTION] = f"no word of exception in the message ({usable.pop(EXCEPTION).text!r})"
    _refuse_shared_spans(usable, refused)
    return usable, refused


def _looks_like_a_file(path: str) -> bool:
    """"config/app.yml", ".env", "id_rsa", "Makefile": yes; "consent", "relaybot": no."""
    return bool(re.search(r"[/._]", path)) or path.lower() in PLAIN_FILE_NAMES


def _cuts_a_word(text: str, answer: Answer) -> bool:
    if not text or answer.start is None or answer.end is None:
        return False
    before = text[answer.start - 1] if answer.start > 0 else " "
    after = text[answer.end] if answer.end < len(text) else " "
    following = text[answer.end + 1] if answer.end + 1 < len(text) else " "
    if (
        before.isalnum()
        or before in "_-/@~"
        or (before == "." and answer.start > 1 and text[answer.start - 2].isalnum())
    ):
        return True
    return after.isalnum() or after in "_-/@" or (after == "." and following.isalnum())


def _refuse_shared_spans(usable: dict[str, FieldValue], refused: dict[str, str]) -> None:
    keys = [k for k in (OWNER, NAME, PATH) if k in usable]
    clashing = set()
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            fa, fb = usable[a], usable[b]
            if (
                fa.start is not None
                and fb.start is not None
                and fa.start < fb.end
                and fb.start < fa.end
            ):
                clashing.update((a, b))
    for key in clashing:
        refused[key] = f"{usable.pop(key).text!r} was also read as another field"
