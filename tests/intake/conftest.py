"""The tiny trained MobileBERT, once per test session, shared by pytest-xdist workers.

Training takes 20-40 s on one core; the first worker to get the lock trains and exports,
the others wait and reuse the model directory. Training stops on held-out accuracy, and a
run that does not reach it fails here, with its numbers, rather than as odd answers later. While working on
these tests, ``OPTOUT_TEST_INTAKE_MODEL=DIR`` reuses DIR/checkpoint and DIR/onnx instead.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

# Seeds 0-7 all reach the held-out target and pass every assertion of test_api.py (7 of 8
# with the unfused optimizer; see train_tiny's docstring). Seed 0 is a slow learner: it
# trains the full 1,500 steps.
TRAINING = {"examples": 3000, "seed": 0}


def _shared_dir(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker has its own basetemp inside one shared parent.
    return base.parent if base.name.startswith("popen-gw") else base


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Return (checkpoint dir, ONNX model dir) of the tiny model, trained and exported once."""
    pytest.importorskip("torch")
    reuse = os.environ.get("OPTOUT_TEST_INTAKE_MODEL")  # a folder a previous session made
    if reuse:
        return Path(reuse) / "checkpoint", Path(reuse) / "onnx"
    from shared.intake.export import export
    from shared.intake.train_tiny import train

    root = _shared_dir(tmp_path_factory) / "intake-tiny-model"
    root.mkdir(exist_ok=True)
    checkpoint, model_dir = root / "checkpoint", root / "onnx"
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "done.json"
        if not done.exists():
            result = train(checkpoint, report=lambda line: None, **TRAINING)
            if not result.converged:
                pytest.fail(f"the tiny model did not reach its held-out target: {result}")
            export(checkpoint, model_dir, "tiny-test-model", report=lambda line: None)
            done.write_text(json.dumps(TRAINING))
    return checkpoint, model_dir
