"""Synthetic SQuAD v2 style training data: removal requests in prose, with answer spans.

Each message asks to remove a whole account (with or without an exception), a repository or
a file, or asks nothing at all; every question of ``questions.QUESTIONS`` either has its
answer span in the message or is unanswerable there. This trains the tiny test model; the
labelled evaluation set (tests/data/intake_requests.jsonl) is written separately, in other
words, so that the benchmark does not grade the model on its own templates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from shared.intake.questions import EXCEPTION, EXTENT, HOST, NAME, OWNER, PATH


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SYLLABLES = _words(
    "ka ro mi lu ten vas or el qui ban dor fen gal hex io jun kel lam nor pix ra sol tor "
    "ur vel wex yan zed bri cor dal eve fin gro hal"
)
WORDS = _words(
    "data pipeline api core web app tools utils lib sdk docs site bot cli engine server "
    "client parser scanner notes dotfiles infra deploy forge tracker map"
)
HOSTS = (
    "GitHub",
    "github.com",
    "GitLab",
    "gitlab.com",
    "Codeberg",
    "codeberg.org",
    "Bitbucket",
    "bitbucket.org",
    "Gitea",
    "sr.ht",
)
FILES = (
    "config.yml",
    ".env",
    "settings.py",
    "secrets.json",
    "README.md",
    "contact.txt",
    "id_rsa",
    "users.csv",
    "main.go",
    "app.js",
    "credentials.xml",
    "notes.md",
)
DIRS = ("", "", "src/", "config/", "docs/", "scripts/", "deploy/prod/", "lib/util/")
EXTENTS = (
    "everything",
    "all repositories",
    "all of our repositories",
    "every repository",
    "the whole organisation",
    "all my code",
    "everything my team published",
    "the entire account",
    "all projects",
    "everything we ever pushed",
)
GREETINGS = ("", "", "Hi,", "Hello,", "Dear maintainers,", "Good morning.", "Hey there!")
CLOSINGS = (
    "",
    "",
    "Thanks.",
    "Thank you in advance.",
    "Best regards, Sam",
    "Cheers, Alex",
    "Let me know if you need proof.",
    "I never agreed to this.",
    "Please confirm by mail.",
)
NONE_MESSAGES = (
    "How do I opt out of the dataset?",
    "Is my code in your dataset at all?",
    "I have a question about the license you use.",
    "Can you tell me when the next release is planned?",
    "Who do I contact about a takedown?",
    "What data do you keep about me?",
    "I am worried about my privacy, what do you do with code?",
    "Please explain how the review works.",
)

# Templates: {owner} {name} {host} {path} {extent} {exception}; ``H`` marks host clauses.
OWNER_CORE = (
    "Please remove {extent} under {owner}{H: on {host}}.",
    "I want {extent} of my account {owner} taken out of your dataset.{H: It is on {host}.}",
    "Could you exclude {extent} from the{H: {host}} organisation {owner}?",
    "Our org {owner}{H: ({host})} opts out: remove {extent}.",
    "Take out {extent} that {owner} published{H: on {host}}.",
    "I am the admin of {owner}{H: on {host}} and we want {extent} excluded.",
)
EXCEPTIONS = (
    " except {exception}.",
    ", but not {exception}.",
    ", apart from {exception}.",
    ". Keep {exception} though.",
    " excluding the {exception} repo.",
    " except for {exception}.",
    ", other than {exception}.",
    ", with the exception of {exception}.",
    ". Leave {exception} in, please.",
    " except the repository {exception}.",
)
REPO_CORE = (
    "Please remove the repository {name} of {owner}{H: on {host}}.",
    "My repo {name}{H: ({host}, user {owner})} should not be in the dataset.{O: I am {owner}.}",
    "Take {name} out, it belongs to {owner}{H: on {host}}.",
    "Our project {name} in the {owner} organisation{H: on {host}} must be excluded.",
    "I am {owner}{H: on {host}}. Please drop my repository {name}.",
    "Remove {owner}'s repo {name}{H: from {host}} please.",
)
FILE_CORE = (
    "The file {path} in {owner}'s repository {name}{H: on {host}} contains my address.",
    "Please drop {path} from {name}{H: ({owner}, {host})}{O: of {owner}}: it leaks a key.",
    "In the repo {name} by {owner}{H: on {host}}, the file {path} has a password.",
    "{path} in {owner}/{name} should be removed{H:, that is on {host}}.",
    "My repository {name}{H: on {host}} (account {owner}) has a file {path} with secrets.",
    "Remove the file {path}, not the whole repo {name}. Owner: {owner}.{H: Host: {host}.}",
    "{owner} here.{H: On {host},} the file {path} of my repo {name} leaks my e-mail address.",
)


@dataclass
class Example:
    """A message and, per field, its answer's character span (None: unanswerable)."""

    text: str
    answers: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    kind: str | None = None


def _ident(rng: random.Random, parts: int) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(parts))
    style = rng.random()
    if style < 0.3:
        return f"{word}-{rng.choice(WORDS)}"
    if style < 0.45:
        return f"{word}{rng.randint(1, 99)}"
    if style < 0.55:
        return word.capitalize()
    return word


def _values(rng: random.Random) -> dict[str, str]:
    a, b = rng.choice(WORDS), rng.choice(WORDS)
    name = rng.choice((_ident(rng, 2), a, f"{a}-{b}", f"{a}.js", f"{a}_{b}"))
    # What is kept is a repository: a plain word ("docs") or a name like any other.
    other = rng.choice(WORDS)
    exception = rng.choice((other, other, _ident(rng, 2), f"{rng.choice(WORDS)}-{other}"))
    return {
        OWNER: _ident(rng, rng.randint(2, 3)),
        NAME: name,
        HOST: rng.choice(HOSTS) if rng.random() < 0.85 else f"git.{_ident(rng, 2).lower()}.org",
        PATH: rng.choice(DIRS) + rng.choice(FILES),
        EXTENT: rng.choice(EXTENTS),
        EXCEPTION: exception,
    }


def _render(template: str, values: dict[str, str], with_host: bool) -> tuple[str, dict]:
    """Fill a template, keeping each field's first character span."""
    text, spans, i = "", {}, 0
    while i < len(template):
        if template.startswith("{H:", i) or template.startswith("{O:", i):
            close = _matching(template, i)
            keep = with_host if template[i + 1] == "H" else not with_host
            if keep:
                inner, inner_spans = _render(template[i + 3 : close], values, with_host)
                for key, (s, e) in inner_spans.items():
                    spans.setdefault(key, (s + len(text), e + len(text)))
                text += inner
            i = close + 1
        elif template[i] == "{":
            close = template.index("}", i)
            key = template[i + 1 : close]
            spans.setdefault(key, (len(text), len(text) + len(values[key])))
            text += values[key]
            i = close + 1
        else:
            text += template[i]
            i += 1
    return text, spans


def _matching(template: str, i: int) -> int:
    depth = 0
    for j in range(i, len(template)):
        depth += {"{": 1, "}": -1}.get(template[j], 0)
        if depth == 0:
            return j
    raise ValueError(f"unbalanced template {template!r}")


def make_example(rng: random.Random) -> Example:
    values = _values(rng)
    with_host = rng.random() < 0.75
    roll = rng.random()
    if roll < 0.3:
        kind, template = "owner", rng.choice(OWNER_CORE)
        if rng.random() < 0.65:
            template = template.rstrip(".?") + rng.choice(EXCEPTIONS)
    elif roll < 0.58:
        kind, template = "repository", rng.choice(REPO_CORE)
    elif roll < 0.87:
        kind, template = "file", rng.choice(FILE_CORE)
    else:
        kind, template = None, rng.choice(NONE_MESSAGES)
        if with_host and rng.random() < 0.5:
            template += " I mostly use {host}."
    core, spans = _render(template, values, with_host)
    head = rng.choice(GREETINGS)
    tail = rng.choice(CLOSINGS)
    prefix = f"{head} " if head else ""
    text = prefix + core + (f" {tail}" if tail else "")
    shift = len(prefix)
    answers = {
        key: ((spans[key][0] + shift, spans[key][1] + shift) if key in spans else None)
        for key in (OWNER, NAME, HOST, PATH, EXTENT, EXCEPTION)
    }
    if kind is None:
        answers = {key: (span if key == HOST else None) for key, span in answers.items()}
    return Example(text, answers, kind)


def make_examples(count: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    return [make_example(rng) for _ in range(count)]
