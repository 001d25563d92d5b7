"""askalono's store, loaded once per process, and its agreement with pyaskalono itself."""

from __future__ import annotations

from importlib import metadata

import askalono
import pytest

from shared.licenses import textmatch
from shared.licenses.textmatch import AskalonoStore, default_matcher, embedded_cache, preprocess


def installed_license(distribution: str, name: str = "LICENSE") -> str:
    """A license file shipped by an installed distribution (a real-world text)."""
    for file in metadata.distribution(distribution).files or []:
        if file.name == name:
            return file.locate().read_text(encoding="utf-8")
    pytest.skip(f"{distribution} has no {name}")


def installed_license_texts() -> list[str]:
    texts = []
    for dist in metadata.distributions():
        for file in dist.files or []:
            if "dist-info" in str(file) and file.name.upper().startswith(("LICEN", "COPYING")):
                try:
                    texts.append(file.locate().read_text(encoding="utf-8", errors="replace"))
                except OSError:
                    continue
    return texts[:15]  # identify() costs ~0.1 s a call


def test_store_is_loaded_once_per_process():
    matcher = default_matcher()
    assert matcher is default_matcher()
    assert matcher.store is matcher.store
    assert matcher.store.license_count > 500


def test_matching_never_calls_the_per_call_loader(monkeypatch):
    def refuse(_text):
        raise AssertionError("askalono.identify reloads its store on every call")

    default_matcher().store  # noqa: B018 - loaded before identify is refused
    monkeypatch.setattr(askalono, "identify", refuse)
    assert default_matcher().match(installed_license("click", "LICENSE.txt")).name == "BSD-3-Clause"


def test_scores_and_names_agree_with_pyaskalono():
    store = default_matcher().store
    texts = installed_license_texts() + [
        "MIT",
        "Copyright 2020\n\n# Permission is hereby granted, free of charge\n# to any person",
        "Ünïcödé “quotes” — dashes © 2024 licence 44 4",
    ]
    assert len(texts) > 10
    for text in texts:
        ours = store.analyze(text)
        theirs = askalono.identify(text)
        if ours is None:
            assert theirs.score == 0
            continue
        assert ours.score == pytest.approx(theirs.score, abs=1e-4)
        if ours.score > 0.3:  # near zero, many licenses tie and the order is arbitrary
            assert ours.name == theirs.name


def test_preprocessing_follows_askalono_quirks():
    # askalono turns the digit 4 into a space (its `\x2044` is a space then "44")
    assert preprocess("January 2004") == "january 200"
    assert preprocess("Copyright (c) 2024 Jane\n\nSome License Text") == "some license text"
    assert preprocess("// one two\n// three four\n// five six") == "one two three four five six"


def test_apache_without_its_appendix_is_apache_not_pixar():
    text = installed_license("requests")
    assert default_matcher().store.analyze(text).name == "Pixar"  # askalono's own answer
    (found,) = default_matcher().identify(text)
    assert found.name == "Apache-2.0"


def test_two_concatenated_licenses_are_both_found():
    mit = installed_license("peewee")
    apache = installed_license("msgpack", "COPYING")
    text = f"This project is under two licenses.\n\n{mit}\n\n-----\n\n{apache}\n\nThanks!\n"
    names = {m.name for m in default_matcher().identify(text)}
    assert names == {"MIT", "Apache-2.0"}


def test_license_under_unrelated_prose_is_located():
    text = "# Project\n\n" + "Some words about the project.\n" * 30 + installed_license("peewee")
    (found,) = default_matcher().identify(text)
    assert found.name == "MIT" and found.lines is not None


def test_garbage_and_empty_text_match_nothing():
    assert default_matcher().store.analyze("") is None
    assert default_matcher().identify("lorem ipsum dolor sit amet " * 20) == []


def test_falls_back_to_identify_without_the_embedded_cache(monkeypatch):
    monkeypatch.setattr(textmatch, "embedded_cache", lambda: b"not a cache")
    matcher = textmatch.AskalonoMatcher()
    assert matcher.store is None
    assert matcher.match(installed_license("click", "LICENSE.txt")).name == "BSD-3-Clause"


def test_a_bad_cache_is_refused():
    with pytest.raises(ValueError):
        AskalonoStore.from_cache(b"askalono-03" + embedded_cache()[11:20])
