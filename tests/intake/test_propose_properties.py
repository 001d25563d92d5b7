"""Properties of the combination: whatever the text and whatever the model answers."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.intake.propose import WHOLE_WORDS, propose
from shared.intake.questions import FIELDS
from shared.intake.spans import Answer
from shared.scope import build_scope

PIECES = st.sampled_from(
    [
        "please remove",
        " everything",
        " all of",
        " the repo",
        " acme-labs",
        " tidal-api",
        " on GitHub",
        " on gitlab.com",
        " https://github.com/a-b/c",
        " github.com/x-y",
        " git@gitlab.com:g/s/p.git",
        " a-b/c",
        " config/.env",
        " except docs",
        " file x.py",
        " https://gitlab.com/groups/team",
        " http://[::1/",
        " and/or",
        " 24/7",
        ".",
        ",",
        "\n",
        " Ünïcode",
        " javascript:alert(1)",
        " https://github.com/a/b/blob/main/p.md#L3",
    ]
)
TEXTS = st.lists(PIECES, min_size=1, max_size=12).map("".join) | st.text(max_size=300)


@st.composite
def text_and_answers(draw):
    text = draw(TEXTS)
    answers = {}
    for key in FIELDS:
        if not text or draw(st.booleans()):
            continue
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, min(len(text), start + 40)))
        answers[key] = Answer(text[start:end], start, end, 5.0, 1.0, 0.98)
    return text, answers


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_and_answers(), st.sampled_from([None, "github.com"]))
def test_proposals_are_valid_and_never_wider_than_the_text_says(case, default_host):
    text, answers = case
    proposals, parsed, refused = propose(text, answers, default_host)
    for p in parsed:
        assert text[p.candidate.start : p.candidate.end] == p.candidate.text
    for proposal in proposals:
        for value in proposal.fields.values():
            if value.start is not None:
                assert text[value.start : value.end] == value.text
        body = proposal.request_body()
        if body is None:
            continue
        scope = build_scope(body["kind"], body)  # every complete proposal is a valid request
        assert scope == proposal.scope
        if scope.kind == "owner":
            extent = proposal.fields["extent"]
            assert WHOLE_WORDS.search(extent.text)  # the message asked for the whole account
        assert not proposal.exceptions
    assert set(refused) <= set(answers)
