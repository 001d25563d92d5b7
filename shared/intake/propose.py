"""Combine the scope parser and the QA model's answers into proposed requests.

The parser reads every address in the message first (exact, never widening). The model's
answers fill in what prose says: the host of a bare ``owner/name``, the repository of an
account address, or a whole request written out in words. These rules keep a proposal from
asking for more than the message does:

- a whole-account request needs the message to say how much (the ``extent`` answer must hold
  a word such as "all", "every", "everything", "whole" or "entire"); an account name alone
  gives an incomplete proposal, never an ``owner`` request;
- anything the message excepts blocks the proposal: a request cannot keep part of what it
  removes, so a person must list what is to go instead;
- a field that does not validate (``answers.model_fields``) is missing, never guessed; and
  when it is the narrower one (the repository of an account, the file of a repository) the
  wider proposal waits as well;
- a repository read from a URL waits when the message names a file beside it.

Nothing here submits anything: proposals are data for a person to confirm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.intake.answers import EXCEPT_WORDS, FieldValue, model_fields
from shared.intake.candidates import (
    FILE_SUFFIXES,
    PLAIN_FILE_NAMES,
    Candidate,
    find_candidates,
)
from shared.intake.questions import EXCEPTION, EXTENT, HOST, NAME, OWNER, PATH
from shared.intake.spans import Answer
from shared.scope import ScopeError, build_scope
from shared.scope_parser import parse_one

WHOLE_WORDS = re.compile(
    r"(?i)\b(all|every|everything|whole|entire|entirely|complete|completely|any)\b"
)
_SENTENCE_END = re.compile(r"[.!?;](\s|$)|\n")
_GROUP_PAGE = re.compile(r"(?i)^((?:https?://)?[^/\s]+/)groups/([^?#\s]+?)/?$")
# Plain file names that are not also English words ("the license is MIT" names no file).
_UNMISTAKABLE_FILES = sorted(PLAIN_FILE_NAMES - {"license", "licence", "readme", "copying",
                                                "authors", "notice"})
_FILE_MENTION = re.compile(
    r"(?<![\w/.-])(?:[\w.-]+/)*(?:\.[\w-]+|[\w-]+\.(?:"
    + "|".join(sorted(FILE_SUFFIXES))
    + r")|(?i:"
    + "|".join(_UNMISTAKABLE_FILES)
    + r"))(?![\w/])"
)
PARSER_CONFIDENCE = 1.0


@dataclass
class Proposal:
    """A proposed request: complete (a valid scope) or saying what is missing or blocking."""

    kind: str | None
    fields: dict[str, FieldValue]
    missing: list[str] = field(default_factory=list)
    exceptions: list[FieldValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scope: object | None = None  # shared.scope.Scope when complete

    @property
    def complete(self) -> bool:
        return self.scope is not None and not self.missing and not self.exceptions

    @property
    def confidence(self) -> float:
        return min((f.confidence for f in self.fields.values()), default=0.0)

    def request_body(self) -> dict | None:
        """The body of ``POST /api/v1/requests`` a person may submit, once confirmed."""
        if not self.complete:
            return None
        scope = self.scope
        body = {"kind": scope.kind, "host": scope.host, "owner": scope.owner}
        for key in ("name", "path", "line"):
            if getattr(scope, key) is not None:
                body[key] = getattr(scope, key)
        return body

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "complete": self.complete,
            "confidence": round(self.confidence, 4),
            "fields": {k: v.to_dict() for k, v in self.fields.items()},
            "missing": list(self.missing),
            "exceptions": [e.to_dict() for e in self.exceptions],
            "notes": list(self.notes),
            "describe": self.scope.describe() if self.complete else None,
            "request": self.request_body(),
        }


@dataclass(frozen=True)
class Parsed:
    candidate: Candidate
    scope: object | None
    error: ScopeError | None
    note: str | None


def parse_candidates(
    text: str, bare_host: str | None, path: FieldValue | None = None
) -> list[Parsed]:
    """Read every address in the message with the owners' scope parser.

    A bare ``a/b`` inside the span the model read as a file path is that path, not a
    repository ("keys/id_rsa").
    """
    parsed = []
    for candidate in find_candidates(text):
        if candidate.bare and path is not None and _overlaps(path, candidate):
            continue
        if candidate.bare and bare_host is None:
            parsed.append(Parsed(candidate, None, None, "no host for a bare owner/name"))
            continue
        address, kind = candidate.text, None
        group = _GROUP_PAGE.match(address)
        if group:  # gitlab.com/groups/name: the group's page, an account and nothing more
            address, kind = group.group(1) + group.group(2), "owner"
        try:
            scope, note = parse_one(address, kind, bare_host or "github.com")
            parsed.append(Parsed(candidate, scope, None, note))
        except ScopeError as error:  # "http://[::1/…" included: invalid_url
            parsed.append(Parsed(candidate, None, error, None))
    return parsed


def propose(
    text: str, answers: dict[str, Answer] | None = None, default_host: str | None = None
) -> tuple[list[Proposal], list[Parsed], dict[str, str]]:
    """Return the proposals for a message, the parser's readings and refused model fields."""
    answers = answers or {}
    found, refused = model_fields(answers, text)
    bare_host = found[HOST].value if HOST in found else default_host
    parsed = parse_candidates(text, bare_host, _raw_span(answers.get(PATH)))
    whole = EXTENT in found and bool(WHOLE_WORDS.search(str(found[EXTENT].value)))
    proposals = _address_proposals(parsed, found, bare_host, whole)
    unresolved = [p for p in parsed if p.candidate.bare and p.scope is None and p.error is None]
    if not proposals and not unresolved:
        accounts = [p for p in parsed if p.scope is not None and p.scope.kind == "owner"]
        account = accounts[0] if len(accounts) == 1 else None
        prose = _from_prose(found, refused, account, whole, default_host)
        if prose is not None:
            proposals.append(prose)
    proposals += _hostless_proposals(parsed, unresolved)
    _guard_file_mentions(text, parsed, proposals)
    _block_exceptions(text, found.get(EXCEPTION), proposals)
    return proposals, parsed, refused


def _raw_span(answer: Answer | None) -> FieldValue | None:
    """The span the model read, valid or not (a refused path still marks a path)."""
    if answer is None or answer.abstained:
        return None
    return FieldValue("", answer.text, answer.start, answer.end, 0.0, "model")


def _address_proposals(parsed, found, bare_host, whole: bool) -> list[Proposal]:
    """One proposal per repository or file address; account addresses only if whole."""
    proposals: list[Proposal] = []
    seen: set = set()
    for p in parsed:
        if p.scope is None or p.scope.kind == "owner" or p.scope in seen:
            continue
        seen.add(p.scope)
        proposals.append(_from_parser(p, found, bare_host, len(parsed) == 1))
    for p in parsed:
        if whole and p.scope is not None and p.scope.kind == "owner" and p.scope not in seen:
            seen.add(p.scope)
            proposals.append(_from_parser(p, found, bare_host, False, found[EXTENT]))
    return proposals


def _hostless_proposals(parsed: list[Parsed], unresolved: list[Parsed]) -> list[Proposal]:
    """Bare ``owner/name`` forms with no host anywhere: incomplete, the host is asked for."""
    named = {
        (str(p.scope.owner).lower(), str(p.scope.name).lower())
        for p in parsed
        if p.scope is not None
    }
    proposals = []
    for p in unresolved:
        owner, _, name = p.candidate.text.partition("/")
        if (owner.lower(), name.lower()) in named:
            continue  # the same repository, already read from a full address
        fields = {
            "owner": _span_field(p.candidate, owner, 0),
            "name": _span_field(p.candidate, name, len(owner) + 1),
        }
        note = f"{p.candidate.text!r} names no host and the message does not say which"
        proposals.append(Proposal("repository", fields, ["host"], notes=[note]))
    return proposals


def _block_exceptions(text: str, exception: FieldValue | None, proposals: list[Proposal]) -> None:
    """Block what the message keeps part of: the model's exception, or a word of exception.

    After a word of exception comes what is kept ("all of it, but not the website repo"):
    a proposal whose name or path is read there is the kept thing, blocked too.
    """
    cue = EXCEPT_WORDS.search(text)
    for proposal in proposals:
        kept = _after_cue(text, cue, proposal)
        if kept is not None:
            proposal.exceptions = [kept]
            proposal.notes.append(
                f"{kept.text!r} follows {cue.group(0)!r}: the message keeps it rather than "
                "asking for its removal"
            )
        elif exception is not None:
            proposal.exceptions = [exception]
            proposal.notes.append(
                f"the message keeps {exception.text!r}: a request cannot except part of "
                "what it removes; list what is to be removed instead"
            )
        elif cue and proposal.kind == "owner":
            # The model missed it, the words are there: an account minus something is
            # narrower than an account request, so hold it back all the same.
            said = cue.group(0)
            proposal.exceptions = [FieldValue(said, said, cue.start(), cue.end(), 1.0, "rule")]
            proposal.notes.append(
                f"the message says {said!r}: a whole-account request cannot except anything; "
                "list what is to be removed instead"
            )


def _after_cue(text: str, cue, proposal: Proposal) -> FieldValue | None:
    """The proposal's name or path when it is read after the cue, in the same sentence."""
    if cue is None:
        return None
    for key in ("name", "path"):
        field = proposal.fields.get(key)
        if field is None or field.start is None or field.start < cue.end():
            continue
        if not _SENTENCE_END.search(text[cue.end() : field.start]):
            return field
    return None


def _guard_file_mentions(text: str, parsed: list[Parsed], proposals: list[Proposal]) -> None:
    """Hold back a repository read from a URL when the message names a file beside it.

    "notes/meeting.md in github.com/a/b has phone numbers": the URL is the repository, but
    the request is for the file. Without the path (the model's job) the repository would be
    wider than asked, so it becomes incomplete instead.
    """
    spans = [(p.candidate.start, p.candidate.end) for p in parsed]
    mentions = [
        m.group(0)
        for m in _FILE_MENTION.finditer(text)
        if not any(s <= m.start() < e for s, e in spans)
    ]
    if not mentions:
        return
    for proposal in proposals:
        if proposal.kind == "repository" and proposal.scope is not None:
            proposal.missing.append("path")
            proposal.notes.append(
                f"the message names a file ({mentions[0]!r}) beside this repository; a "
                "repository request could be wider than asked: check which file is meant"
            )


def _span_field(candidate: Candidate, value: str, offset: int) -> FieldValue:
    start = candidate.start + offset
    return FieldValue(value, value, start, start + len(value), PARSER_CONFIDENCE, "parser")


def _from_parser(
    p: Parsed, found: dict[str, FieldValue], bare_host, only: bool, extent=None
) -> Proposal:
    scope = p.scope
    c = p.candidate
    fields = {}
    for key in ("host", "owner", "name", "path", "line"):
        value = getattr(scope, key)
        if value is not None:
            fields[key] = FieldValue(value, c.text, c.start, c.end, PARSER_CONFIDENCE, "parser")
    if c.bare:
        fields["host"] = found.get(HOST) or FieldValue(bare_host, "", None, None, 1.0, "default")
    notes = [p.note] if p.note else []
    if scope.kind == "repository" and only and PATH in found and not _overlaps(found[PATH], c):
        # "the file .env in https://github.com/a/b": narrower than the repository.
        fields["path"] = found[PATH]
        try:
            scope = build_scope("file", {k: v.value for k, v in fields.items()})
        except ScopeError as error:
            notes.append(f"file path refused: {error.message}")
            del fields["path"]
    if extent is not None:
        fields["extent"] = extent
    return Proposal(scope.kind, fields, notes=notes, scope=scope)


def _overlaps(value: FieldValue, c: Candidate) -> bool:
    return value.start is not None and value.start < c.end and c.start < value.end


def _from_prose(
    found: dict[str, FieldValue],
    refused: dict[str, str],
    account: Parsed | None,
    whole: bool,
    default_host: str | None,
) -> Proposal | None:
    """Build the one proposal prose gives when no address names a repository or file."""
    fields: dict[str, FieldValue] = {}
    if account is not None:
        c = account.candidate
        for key in ("host", "owner"):
            value = getattr(account.scope, key)
            fields[key] = FieldValue(value, c.text, c.start, c.end, PARSER_CONFIDENCE, "parser")
    for key in (HOST, OWNER, NAME, PATH):
        if key in found and key not in fields:
            fields[key] = found[key]
    if "host" not in fields and default_host and len(fields) > 0:
        fields["host"] = FieldValue(default_host, "", None, None, 1.0, "default")
    if OWNER not in fields and NAME not in fields:
        return None  # the message names nothing to remove: abstain
    if NAME in fields and PATH in fields:
        kind = "file"
    elif NAME in fields:
        kind = "repository"
        fields.pop(PATH, None)
    elif whole:
        kind = "owner"
        fields["extent"] = found[EXTENT]
        fields.pop(PATH, None)
    else:
        fields.pop(PATH, None)
        return Proposal(
            None,
            fields,
            ["name"],
            notes=[
                "the message names an account but not what to remove; a whole-account request "
                "is proposed only when the message asks for everything"
            ],
        )
    missing = [k for k in ("host", "owner") if k not in fields]
    proposal = Proposal(kind, fields, missing)
    # A narrower field the message has but that did not validate: the wider kind would
    # remove more than asked, so the proposal waits for a person instead.
    narrower = {"owner": NAME, "repository": PATH}.get(kind)
    if narrower in refused:
        proposal.missing.append(narrower)
        proposal.notes.append(f"the {narrower} could not be read: {refused[narrower]}")
    if not missing:
        values = {k: v.value for k, v in fields.items() if k in ("host", "owner", "name", "path")}
        try:
            proposal.scope = build_scope(kind, values)
        except ScopeError as error:
            proposal.missing.append(error.field)
            proposal.notes.append(error.message)
    return proposal
