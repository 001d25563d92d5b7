"""The labelled set of realistic requests, and the wrong-scope rate that must stay near zero."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from shared.intake import Intake, load_intake
from shared.intake.evaluate import load_labelled, score

DATA = Path(__file__).resolve().parents[1] / "data" / "intake_requests.jsonl"


def test_the_labelled_set_is_large_varied_and_valid():
    rows = load_labelled(DATA)  # every expected scope passes build_scope
    assert len(rows) >= 150
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["text"] for r in rows}) == len(rows)
    categories = Counter(r["category"] for r in rows)
    assert set(categories) == {
        "url",
        "prose_repo",
        "bare_host",
        "owner",
        "exception",
        "prose_file",
        "none",
        "no_host",
        "trap",
    }
    assert sum(1 for r in rows if not r["expected"]) >= 30  # the right answer: abstain


def test_the_parser_alone_never_proposes_a_wrong_scope():
    scored = score(Intake(), load_labelled(DATA))
    assert scored["wrong"] == []
    assert scored["by_category"]["url"]["exact"] == scored["by_category"]["url"]["messages"]


def test_parser_and_tiny_model_stay_near_zero_wrong_scopes(tiny_model):
    rows = load_labelled(DATA)
    scored = score(load_intake(tiny_model[1], "int8"), rows)
    counts = scored["counts"]
    assert counts["wrong"] <= 2, scored["wrong"]
    assert counts["wider"] == 0, scored["wrong"]
    assert counts["exact"] > score(Intake(), rows)["counts"]["exact"]  # the model adds
