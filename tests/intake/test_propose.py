"""Combining the scope parser with (hand-made) model answers: never widen, never guess."""

from __future__ import annotations

import pytest

from shared.intake import Intake
from shared.intake.answers import normalize_host_answer
from shared.intake.candidates import find_candidates
from shared.intake.propose import propose
from shared.intake.spans import Answer


def says(text: str, **fields: str) -> dict[str, Answer]:
    """Answers as a model would give them: the first occurrence of each value in ``text``."""
    answers = {}
    for key, value in fields.items():
        start = text.index(value)
        answers[key] = Answer(value, start, start + len(value), 8.0, 1.0, 0.999)
    return answers


def scopes(text, answers=None, default_host=None):
    proposals, _, _ = propose(text, answers, default_host)
    return [p.request_body() for p in proposals if p.complete], proposals


def test_addresses_are_found_with_their_spans():
    text = (
        "remove https://github.com/Foo/Bar.git, acme/widgets and git@gitlab.com:g/sub/p.git "
        "but not config/secrets.yml, and/or 24/7 or src/app/main.py; mail a@b.com"
    )
    found = [(c.text, c.bare) for c in find_candidates(text)]
    assert found == [
        ("https://github.com/Foo/Bar.git", False),
        ("acme/widgets", True),
        ("git@gitlab.com:g/sub/p.git", False),
    ]
    for c in find_candidates(text):
        assert text[c.start : c.end] == c.text


def test_the_parser_alone_reads_urls_exactly():
    got, proposals = scopes("Please remove https://github.com/jluna/thesis-code/blob/main/a.py#L3")
    assert got == [
        {
            "kind": "file",
            "host": "github.com",
            "owner": "jluna",
            "name": "thesis-code",
            "path": "a.py",
            "line": 3,
        }
    ]
    field = proposals[0].fields["owner"]
    assert field.source == "parser" and field.confidence == 1.0
    assert field.text == "https://github.com/jluna/thesis-code/blob/main/a.py#L3"


def test_an_account_url_alone_is_not_a_whole_account_request():
    got, proposals = scopes("My profile is https://github.com/jluna, please have a look")
    assert got == [] and proposals[0].kind is None and proposals[0].missing == ["name"]
    assert "asks for everything" in proposals[0].notes[0]


def test_an_account_url_with_everything_is_a_whole_account_request():
    text = "Please remove everything at https://github.com/jluna"
    got, proposals = scopes(text, says(text, extent="everything"))
    assert got == [{"kind": "owner", "host": "github.com", "owner": "jluna"}]
    assert proposals[0].fields["extent"].text == "everything"


def test_an_account_url_and_a_repository_named_in_prose_make_a_repository():
    text = "https://github.com/jluna — that's me. Please remove thesis-code."
    got, proposals = scopes(text, says(text, name="thesis-code", owner="jluna"))
    assert got == [
        {"kind": "repository", "host": "github.com", "owner": "jluna", "name": "thesis-code"}
    ]
    assert proposals[0].fields["host"].source == "parser"
    assert proposals[0].fields["name"].source == "model"


def test_prose_makes_a_repository_request():
    text = "Please remove my repository tiny-http from GitHub. My username is mkowalski."
    answers = says(text, owner="mkowalski", name="tiny-http", host="GitHub")
    got, proposals = scopes(text, answers)
    assert got == [
        {"kind": "repository", "host": "github.com", "owner": "mkowalski", "name": "tiny-http"}
    ]
    host = proposals[0].fields["host"]
    assert (host.value, host.text, text[host.start : host.end]) == (
        "github.com",
        "GitHub",
        "GitHub",
    )


def test_an_account_name_alone_never_becomes_a_whole_account_request():
    text = "I am mkowalski on GitHub and want something removed."
    got, proposals = scopes(text, says(text, owner="mkowalski", host="GitHub"))
    assert got == [] and proposals[0].kind is None and proposals[0].missing == ["name"]


@pytest.mark.parametrize("extent", ["some repositories", "my stuff", "the old ones"])
def test_an_extent_without_a_whole_word_does_not_widen(extent):
    text = f"Please remove {extent} of mkowalski on GitHub."
    got, _ = scopes(text, says(text, owner="mkowalski", host="GitHub", extent=extent))
    assert got == []


def test_a_whole_account_needs_the_message_to_say_so():
    text = "Please remove all repositories of mkowalski on GitHub."
    got, _ = scopes(text, says(text, owner="mkowalski", host="GitHub", extent="all repositories"))
    assert got == [{"kind": "owner", "host": "github.com", "owner": "mkowalski"}]


def test_an_exception_blocks_the_proposal():
    text = (
        "please take out everything my team published under kestrel-analytics on GitLab, "
        "except the docs repo"
    )
    answers = says(
        text, owner="kestrel-analytics", host="GitLab", extent="everything", exception="docs"
    )
    got, proposals = scopes(text, answers)
    assert got == []
    assert proposals[0].kind == "owner" and not proposals[0].complete
    assert proposals[0].request_body() is None
    assert proposals[0].exceptions[0].text == "docs"
    assert "cannot except" in proposals[0].notes[-1]


def test_a_bare_owner_name_takes_the_host_from_the_message_or_stays_incomplete():
    text = "Please remove acme-robotics/arm-driver from GitLab."
    got, _ = scopes(text, says(text, host="GitLab"))
    assert got == [
        {"kind": "repository", "host": "gitlab.com", "owner": "acme-robotics", "name": "arm-driver"}
    ]
    got, proposals = scopes(text)  # the parser alone cannot know the host: it does not guess
    assert got == [] and proposals[0].missing == ["host"]
    assert proposals[0].fields["owner"].text == "acme-robotics"
    got, _ = scopes(text, default_host="codeberg.org")  # unless the caller gives one
    assert got[0]["host"] == "codeberg.org"


def test_prose_without_a_host_stays_incomplete():
    text = "Please remove my repository tiny-http. My username is mkowalski."
    got, proposals = scopes(text, says(text, owner="mkowalski", name="tiny-http"))
    assert got == [] and proposals[0].missing == ["host"] and proposals[0].kind == "repository"


def test_a_file_named_in_prose_narrows_a_repository_url():
    text = "The file config.py in https://github.com/bitsmith/weather-bot has a key."
    got, _ = scopes(text, says(text, path="config.py"))
    assert got == [
        {
            "kind": "file",
            "host": "github.com",
            "owner": "bitsmith",
            "name": "weather-bot",
            "path": "config.py",
        }
    ]


def test_prose_makes_a_file_request():
    text = "Please remove secrets/token.txt from the scraper repository of ivanov-d on GitHub."
    answers = says(text, path="secrets/token.txt", name="scraper", owner="ivanov-d", host="GitHub")
    got, _ = scopes(text, answers)
    assert got == [
        {
            "kind": "file",
            "host": "github.com",
            "owner": "ivanov-d",
            "name": "scraper",
            "path": "secrets/token.txt",
        }
    ]


def test_answers_that_do_not_validate_are_refused_not_guessed():
    text = "Please remove the repo named my cool project of some user on GitHub"
    answers = says(text, name="my cool project", owner="some user", host="GitHub")
    proposals, _, refused = propose(text, answers)
    assert set(refused) == {"name", "owner"}
    assert proposals == []  # nothing valid to remove: abstain


def test_the_parser_wins_over_the_model_for_addresses():
    text = "Remove https://github.com/haruto-k/pixel-editor please (my other repo is fine)."
    answers = says(text, owner="haruto", name="other", host="github")
    got, _ = scopes(text, answers)
    assert got == [
        {"kind": "repository", "host": "github.com", "owner": "haruto-k", "name": "pixel-editor"}
    ]


def test_several_urls_give_several_proposals_and_duplicates_collapse():
    text = (
        "https://github.com/a-b/one and https://github.com/a-b/two, "
        "again https://github.com/a-b/one.git"
    )
    got, _ = scopes(text)
    assert [g["name"] for g in got] == ["one", "two"]


def test_refused_addresses_are_reported_not_proposed():
    text = "remove https://github.com/a-b/one/tree/main/docs and javascript:alert(1)"
    proposals, parsed, _ = propose(text)
    assert proposals == []
    assert [p.error.code for p in parsed] == ["directory_address"]


@pytest.mark.parametrize(
    ("answer", "host"),
    [
        ("GitHub", "github.com"),
        ("gitlab.com", "gitlab.com"),
        ("the Codeberg", "codeberg.org"),
        ("our instance git.example.org", "git.example.org"),
        ("Bitbucket Cloud", "bitbucket.org"),
        ("Hugging Face", "huggingface.co"),
        ("my laptop", None),
        ("127.0.0.1", None),
    ],
)
def test_host_answers_are_normalised(answer, host):
    assert normalize_host_answer(answer) == host


def test_without_a_model_the_result_says_so():
    result = Intake().run("Please remove https://github.com/jluna/thesis-code")
    assert result["mode"] == "parser" and result["model"]["available"] is False
    assert result["model"]["code"] == "model_not_configured"
    assert "parser worked alone" in result["model"]["message"]
    assert result["answers"] == [] and result["submitted"] is False
    assert result["proposals"][0]["request"] == {
        "kind": "repository",
        "host": "github.com",
        "owner": "jluna",
        "name": "thesis-code",
    }


def test_a_file_named_beside_a_repository_url_holds_the_repository_back():
    text = "The file notes/meeting.md in github.com/grace-h/pyramid-solver has phone numbers"
    got, proposals = scopes(text)  # the parser alone cannot read the path: no wider request
    assert got == [] and proposals[0].missing == ["path"]
    assert "notes/meeting.md" in proposals[0].notes[-1]
    got, _ = scopes(text, says(text, path="notes/meeting.md"))
    assert got[0]["kind"] == "file" and got[0]["path"] == "notes/meeting.md"
    got, _ = scopes("Remove https://github.com/a-b/c, e.g. all of it. v1.2 was bad.")
    assert got == [{"kind": "repository", "host": "github.com", "owner": "a-b", "name": "c"}]


def test_a_gitlab_group_page_is_an_account_not_a_project():
    text = "Hi! Can you remove https://gitlab.com/groups/aurora-ml ... no, just the project " \
        "https://gitlab.com/aurora-ml/tokenizer-experiments"
    got, _ = scopes(text)
    assert got == [{"kind": "repository", "host": "gitlab.com", "owner": "aurora-ml",
                    "name": "tokenizer-experiments"}]
    text = "Please remove everything of https://gitlab.com/groups/aurora-ml/"
    got, _ = scopes(text, says(text, extent="everything"))
    assert got == [{"kind": "owner", "host": "gitlab.com", "owner": "aurora-ml"}]


def test_a_refused_narrower_field_never_leaves_a_wider_request():
    text = "Please remove everything in my repo my cool project, account mkowalski on GitHub."
    answers = says(text, owner="mkowalski", host="GitHub", extent="everything",
                   name="my cool project")
    got, proposals = scopes(text, answers)
    assert got == [] and proposals[0].kind == "owner" and proposals[0].missing == ["name"]
    text = "Remove the file my notes.md from repo tiny-http of mkowalski on GitHub."
    answers = says(text, owner="mkowalski", host="GitHub", name="tiny-http", path="my notes.md")
    got, proposals = scopes(text, answers)
    assert got == [] and proposals[0].kind == "repository" and proposals[0].missing == ["path"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("see http://[::1/foo/bar", "invalid_url"),
        ("git@github.com:a/b/../c", "invalid_path"),
        ("https://github.com/%ZZ/x", "invalid_owner"),
        ("ssh://git@[fe80::1%eth0]/x/y", "invalid_host"),
        ("javascript://github.com/a/b", None),  # not an address the finder picks up
    ],
)
def test_malformed_addresses_are_reported_never_raised(text, code):
    result = Intake().run(text)
    assert result["proposals"] == []
    assert [a["error"]["code"] for a in result["addresses"]] == ([code] if code else [])


def test_what_follows_a_word_of_exception_is_kept_not_removed():
    text = "All of Quantum-Bakery's GitHub repositories should go, but not the website repo."
    answers = says(text, owner="Quantum-Bakery", name="website", host="GitHub")
    got, proposals = scopes(text, answers)
    assert got == []
    [proposal] = proposals
    assert proposal.kind == "repository" and proposal.request_body() is None
    assert proposal.exceptions[0].text == "website" and "keeps it" in proposal.notes[-1]
    # Before the word, or in another sentence after it, a name is what is asked for.
    text = "Remove the repo tiny-http of mkowalski on GitHub, but keep the issues though."
    got, _ = scopes(text, says(text, owner="mkowalski", name="tiny-http", host="GitHub"))
    assert got == [{"kind": "repository", "host": "github.com", "owner": "mkowalski",
                    "name": "tiny-http"}]


def test_not_everything_is_not_a_whole_account():
    text = "I'm rdelacroix on GitHub. Not everything — only blog please."
    answers = says(text, owner="rdelacroix", host="GitHub", extent="everything")
    proposals, _, refused = propose(text, answers)
    assert refused["extent"] == "the message says not 'everything'"
    [waiting] = proposals  # an account, and no word of what to remove from it
    assert waiting.request_body() is None and waiting.kind is None
    text = "I'm rdelacroix on GitHub and I don't want everything of mine in it."
    _, _, refused = propose(text, says(text, owner="rdelacroix", extent="everything"))
    assert "extent" in refused
    for text in ("I'm rdelacroix on GitHub, remove everything.",
                 "I do not know how, but remove everything of rdelacroix on GitHub."):
        answers = says(text, owner="rdelacroix", host="GitHub", extent="everything")
        got, _ = scopes(text, answers)
        assert got == [{"kind": "owner", "host": "github.com", "owner": "rdelacroix"}], text


@pytest.mark.parametrize(
    ("text", "fields", "refused"),
    [
        ("remove budget-app (github user nkemdirim) pls", {"name": "pls"}, "name"),
        ("see https://github.com/rdelacroix/blog/tree/main — whole repo please, not just that "
         "branch", {"path": "branch"}, "path"),
    ],
)
def test_filler_words_are_not_names_or_paths(text, fields, refused):
    _, _, why = propose(text, says(text, **fields))
    assert why[refused].endswith(f"is a word of the sentence, not a {refused}")


def test_a_whole_repository_url_stays_a_repository_when_the_model_reads_a_filler_path():
    text = "see https://github.com/rdelacroix/blog/tree/main — whole repo please, not just that branch"
    got, _ = scopes(text, says(text, path="branch", host="github"))
    assert got == [{"kind": "repository", "host": "github.com", "owner": "rdelacroix",
                    "name": "blog"}]


@pytest.mark.parametrize(
    ("text", "path", "refused"),
    [
        ("I found my project at https://github.com/ana-ribeiro/ledger-cli . I did not "
         "consent, take it out please.", "consent", True),
        ("our repository https://codeberg.org/fediverse-tools/relaybot should not be used. "
         "Regards, the relaybot maintainers", "relaybot", True),
        ("The Makefile of https://github.com/ana-ribeiro/ledger-cli has my address.",
         "Makefile", False),
        ("id_rsa in https://github.com/ana-ribeiro/ledger-cli is my key.", "id_rsa", False),
        ("The file .env of https://github.com/ana-ribeiro/ledger-cli leaks.", ".env", False),
    ],
)
def test_a_path_read_by_the_model_must_look_like_a_file(text, path, refused):
    got, _ = scopes(text, says(text, path=path))
    kinds = [g["kind"] for g in got]
    if refused:
        assert kinds == ["repository"]  # the URL's repository, not a file named "consent"
    else:
        assert kinds == ["file"] and got[0]["path"] == path


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("Hey, the scraper repo by ivanov-d on GitHub should not be in your dataset.",
         {"owner": "ivanov-d", "name": "by", "host": "GitHub"}),
        ("Please remove the grid-sim repository of helios-energy on GitHub.",
         {"owner": "helios-energy", "name": "of", "host": "GitHub"}),
        ("The repository notes of ycheng on GitHub is personal, please exclude it.",
         {"owner": "personal", "name": "notes", "host": "GitHub"}),
    ],
)
def test_a_function_word_is_never_a_name(text, fields):
    got, _ = scopes(text, says(text, **fields))
    assert got == []


def test_a_bare_key_file_is_a_file_not_a_repository():
    text = "There's a private key at keys/id_rsa in the repo dotfiles of osamu-t on GitHub."
    got, _ = scopes(text, says(text, host="GitHub"))
    assert got == []  # not the repository keys/id_rsa
    # Without the model's path, the repository would be wider than asked: it waits.
    answers = says(text, host="GitHub", owner="osamu-t", name="dotfiles")
    got, proposals = scopes(text, answers)
    assert got == [] and proposals[0].kind == "repository" and "path" in proposals[0].missing
    assert "'keys/id_rsa'" in proposals[0].notes[-1]
    answers = says(text, host="GitHub", owner="osamu-t", name="dotfiles", path="keys/id_rsa")
    got, _ = scopes(text, answers)
    assert got == [{"kind": "file", "host": "github.com", "owner": "osamu-t",
                    "name": "dotfiles", "path": "keys/id_rsa"}]


def test_an_english_word_that_is_also_a_file_name_does_not_hold_a_repository_back():
    text = "Please remove the repository tidal-api of kestrel-analytics on GitHub, its license " \
           "does not allow it."
    answers = says(text, owner="kestrel-analytics", name="tidal-api", host="GitHub")
    got, _ = scopes(text, answers)
    assert got == [{"kind": "repository", "host": "github.com", "owner": "kestrel-analytics",
                    "name": "tidal-api"}]
    text = text.replace("its license", "its Dockerfile")
    got, proposals = scopes(text, says(text, owner="kestrel-analytics", name="tidal-api",
                                       host="GitHub"))
    assert got == [] and proposals[0].missing == ["path"]
