"""The tiny model's trainer: its schedule, its batches, and the held-out guard."""

from __future__ import annotations

import json
import random

import pytest

from shared.intake.train_tiny import (
    TRAINING_FILE,
    length_grouped_batches,
    warmup_stable_decay,
)


def test_the_rate_warms_up_holds_and_decays_to_zero():
    factors = [warmup_stable_decay(k, 100, 0.05, 0.35) for k in range(100)]
    assert factors[:5] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert set(factors[5:65]) == {1.0}
    assert factors[65:] == pytest.approx([(100 - k) / 35 for k in range(65, 100)])
    assert factors[-1] == pytest.approx(1 / 35) and min(factors) > 0


def test_length_grouped_batches_hold_every_row_once_and_pad_less():
    rng = random.Random(0)
    rows = [([0] * rng.randint(10, 80), None, 0, 0) for _ in range(1000)]
    for group in (0, 4):
        batches = length_grouped_batches(rows, 32, random.Random(1), group)
        assert sorted(map(id, (r for b in batches for r in b))) == sorted(map(id, rows))
        assert sorted(len(b) for b in batches) == [8] + [32] * 31
    padded = {
        group: sum(32 * max(len(r[0]) for r in b)
                   for b in length_grouped_batches(rows, 32, random.Random(1), group))
        for group in (0, 4)
    }
    assert padded[4] < 0.9 * padded[0]


def test_a_run_that_misses_its_target_says_so(tmp_path):
    pytest.importorskip("torch")
    from shared.intake.train_tiny import train

    lines = []
    result = train(
        tmp_path / "ck", examples=40, steps=20, extra_steps=10, max_steps=40, held_out=10,
        target=1.0, report=lines.append,
    )
    assert not result.converged and result.steps == 40
    assert [c["step"] for c in result.checks] == [20, 30, 40]  # one warm restart per check
    saved = json.loads((tmp_path / "ck" / TRAINING_FILE).read_text())
    assert saved["converged"] is False and saved["steps"] == 40
    assert set(saved["accuracy"]) == {"owner", "name", "host", "path", "exception", "extent"}
    assert any("weakest question" in line for line in lines)
    assert (tmp_path / "ck" / "model.safetensors").is_file()


def test_bad_settings_are_refused_before_any_work(tmp_path):
    pytest.importorskip("torch")
    from shared.intake.train_tiny import train

    for bad in ({"target": 0.0}, {"target": 1.5}, {"steps": 2000, "max_steps": 1500}):
        with pytest.raises(ValueError):
            train(tmp_path / "ck", report=lambda line: None, **bad)
    assert not (tmp_path / "ck").exists()
