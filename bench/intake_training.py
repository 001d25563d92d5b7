#!/usr/bin/env python3
"""Training the tiny intake model: the current recipe against the earlier one, same run.

Baseline ("earlier recipe", the trainer as it was until 2026-11-26): OneCycle schedule over
2 epochs of 3,000 synthetic messages in random batches of 64 rows, peak rate 5e-3, dropout
0.1, positions and token types initialised at the usual std 0.02; the same fixed MiniLM word
vectors and the same synthetic data. Current: ``shared.intake.train_tiny.train`` (cycles
until the weakest question's held-out accuracy reaches 0.94).

For each seed both are trained on one thread, one after the other, and scored with the same
check (``train_tiny.HeldOut``: exact answers on 300 held-out synthetic messages, read with
the server's span post-processing). Printed per seed: seconds (including tokenising, not
the torch import), steps, weakest and mean held-out accuracy; then the ratio of the median
times, current / baseline.

    .venv/bin/python bench/intake_training.py              # seeds 0 1 2, about 4 min
    .venv/bin/python bench/intake_training.py --seeds 0 1 2 3 4 5 6 7

Exit status 0 when the benchmark ran; 2 on a usage error.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.intake import synthetic  # noqa: E402
from shared.intake import train_tiny as tt  # noqa: E402
from shared.intake.vocab import load_tokenizer  # noqa: E402

HELD_OUT = 300


def earlier_recipe(seed: int, examples: int = 3000) -> tuple[float, int, object]:
    """Train as the trainer did before; return (seconds, steps, model)."""
    import torch
    from transformers import MobileBertConfig, MobileBertForQuestionAnswering

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    began = time.monotonic()
    rows = tt.encode_examples(load_tokenizer(), synthetic.make_examples(examples, seed))
    config = dict(tt.TINY_CONFIG, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = MobileBertForQuestionAnswering(MobileBertConfig(**config))
    words = model.mobilebert.embeddings.word_embeddings
    with torch.no_grad():
        words.weight.copy_(torch.from_numpy(tt.pretrained_word_vectors(words.embedding_dim)))
    words.weight.requires_grad_(False)
    batch_size, epochs, rate = 64, 2, 5e-3
    steps = epochs * ((len(rows) + batch_size - 1) // batch_size)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=rate, total_steps=steps, pct_start=0.1
    )
    model.train()
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(rows)
        for at in range(0, len(rows), batch_size):
            loss = tt._step(model, rows[at : at + batch_size], torch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return time.monotonic() - began, steps, model


def current_recipe(seed: int, out: Path) -> tuple[float, int, object]:
    from shared.intake.export import load_checkpoint

    began = time.monotonic()
    result = tt.train(out, seed=seed, report=lambda line: None)
    seconds = time.monotonic() - began
    return seconds, result.steps, load_checkpoint(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    times: dict[str, list[float]] = {"earlier recipe": [], "current": []}
    print(f"{'seed':>4}  {'recipe':<15} {'seconds':>8} {'steps':>6} {'weakest':>8} {'mean':>6}")
    with tempfile.TemporaryDirectory(prefix="optout-train-bench-") as tmp:
        for seed in args.seeds:
            check = tt.HeldOut(load_tokenizer(), synthetic.make_examples(HELD_OUT, seed + 104729))
            runs = {
                "earlier recipe": lambda s=seed: earlier_recipe(s),
                "current": lambda s=seed: current_recipe(s, Path(tmp) / f"seed{s}"),
            }
            for name, run in runs.items():
                seconds, steps, model = run()
                accuracy = check.accuracy(model, torch)
                times[name].append(seconds)
                print(
                    f"{seed:>4}  {name:<15} {seconds:>8.1f} {steps:>6} "
                    f"{min(accuracy.values()):>8.3f} {statistics.mean(accuracy.values()):>6.3f}",
                    flush=True,
                )
    base, now = (statistics.median(times[k]) for k in ("earlier recipe", "current"))
    print(f"median seconds: earlier recipe {base:.1f}, current {now:.1f}; "
          f"ratio current/earlier {now / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
