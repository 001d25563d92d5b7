"""Score an intake engine on a labelled set: exact scopes, abstentions, wrong scopes.

A labelled set is JSON Lines: ``{"id", "category", "text", "expected": [scope, ...]}``, where
an empty ``expected`` means the right answer is to propose nothing complete. Host, owner and
repository name compare case-insensitively, as forges do.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from shared.scope import ScopeError, build_scope


def load_labelled(path: Path) -> list[dict]:
    """Read a labelled set, checking that every expected scope is a valid request."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        for scope in row["expected"]:
            try:
                build_scope(scope["kind"], scope)
            except ScopeError as error:
                raise ValueError(f"{path}:{number}: {error.message}") from None
        rows.append(row)
    return rows


def scope_key(scope: dict) -> tuple:
    return (
        scope["kind"],
        scope["host"].lower(),
        scope["owner"].lower(),
        (scope.get("name") or "").lower(),
        scope.get("path") or "",
        scope.get("line"),
    )


def is_wider(proposed: tuple, expected: set[tuple]) -> bool:
    """An account where one of its repositories or files was asked, or a repository for a file."""
    kind, host, owner, name = proposed[:4]
    for e in expected:
        same_owner = e[1] == host and e[2] == owner
        if kind == "owner" and same_owner and e[0] in ("repository", "file"):
            return True
        if kind == "repository" and same_owner and e[0] == "file" and e[3] == name:
            return True
    return False


def score(engine, rows: list[dict]) -> dict:
    """Run ``engine.run`` on every message; count exact, abstained and wrong answers."""
    counts: Counter = Counter()
    by_category: dict[str, Counter] = {}
    wrong_examples = []
    for row in rows:
        result = engine.run(row["text"])
        got = {scope_key(p["request"]) for p in result["proposals"] if p["complete"]}
        want = {scope_key(s) for s in row["expected"]}
        category = by_category.setdefault(row["category"], Counter())
        wrong = got - want
        for counter in (counts, category):
            counter["messages"] += 1
            counter["exact"] += got == want
            if want:
                counter["asking"] += 1
                counter["abstained"] += not got
            if wrong:
                counter["wrong"] += 1
                counter["wider"] += any(is_wider(w, want) for w in wrong)
        if wrong:
            wrong_examples.append((row["id"], sorted(wrong)))
    return {"counts": counts, "by_category": by_category, "wrong": wrong_examples}
