"""Tokenizer and bag-of-words vectorizer shared by model training and runtime explanation.

The same code turns a customer message into model inputs when the ticket router is
trained (`infra.training.train_models`) and when a live message is explained, so a word's SHAP
value can be pointed back at the exact characters of the original message.

Rules (mirrored in the artifact's `tokenizer` block: lowercase, fold_accents,
min_token_length=2):

- a token is a maximal run of letters or digits (unicode ``\\w`` without the
  underscore); combining marks that follow a letter (decomposed accents) stay part of
  the token;
- its text is lower-cased and accent-folded (NFKD, combining marks dropped), so
  ``"Facturación"`` becomes ``"facturacion"`` and ``"año"`` becomes ``"ano"``;
- tokens whose folded text is shorter than two characters are dropped;
- ``start``/``end`` are offsets into the ORIGINAL string: ``text[start:end]`` is the
  word as the customer wrote it.

Placeholders left by upstream redaction, such as ``[EMAIL]`` or ``[PHONE]``, yield the
token ``email``/``phone`` spanning the letters inside the brackets.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

MIN_TOKEN_LENGTH = 2

TOKENIZER_SPEC: dict[str, bool | int] = {"lowercase": True, "fold_accents": True, "min_token_length": MIN_TOKEN_LENGTH}
"""The tokenizer settings recorded in a `candor.linear_text/1` artifact."""


@dataclass(frozen=True)
class Token:
    """One word of a message: its normalised text and where it sits in the original string."""

    text: str
    start: int
    end: int


def _is_word_char(ch: str) -> bool:
    # Python's `\w` is exactly `str.isalnum()` plus the underscore.
    return ch.isalnum()


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def fold(text: str) -> str:
    """Lower-case `text` and strip its accents (NFKD, combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch) and not _is_mark(ch)).lower()


def tokenize(text: str) -> list[Token]:
    """Split `text` into normalised tokens with offsets into the original string.

    >>> tokenize("¡Facturación, señor!")
    [Token(text='facturacion', start=1, end=12), Token(text='senor', start=14, end=19)]
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if not _is_word_char(text[i]):
            i += 1
            continue
        start = i
        i += 1
        while i < n and (_is_word_char(text[i]) or _is_mark(text[i])):
            i += 1
        folded = "".join(ch for ch in fold(text[start:i]) if _is_word_char(ch))
        if len(folded) >= MIN_TOKEN_LENGTH:
            tokens.append(Token(folded, start, i))
    return tokens


class BagOfWords:
    """Word counts over a fixed vocabulary (the features of a linear text model)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        """Build the vectorizer; `vocabulary[i]` is the token counted in feature `i`."""
        self.vocabulary: list[str] = list(vocabulary)
        self.index: dict[str, int] = {}
        for i, word in enumerate(self.vocabulary):
            if word in self.index:
                raise ValueError(f"duplicate vocabulary entry {word!r}")
            self.index[word] = i

    def __len__(self) -> int:
        return len(self.vocabulary)

    def vectorize(self, text: str) -> tuple[np.ndarray, dict[int, list[Token]]]:
        """Count vocabulary words in `text`.

        Returns the counts (float64, one per vocabulary entry) and, for every feature
        present, the tokens where it occurs (in order), so attributions can be shown on
        the words of the message. Tokens outside the vocabulary are ignored.
        """
        counts = np.zeros(len(self.vocabulary), dtype=np.float64)
        occurrences: dict[int, list[Token]] = {}
        for token in tokenize(text):
            j = self.index.get(token.text)
            if j is None:
                continue
            counts[j] += 1.0
            occurrences.setdefault(j, []).append(token)
        return counts, occurrences

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """Count matrix (rows = texts, float64) for a batch of messages."""
        rows = [self.vectorize(t)[0] for t in texts]
        if not rows:
            return np.zeros((0, len(self.vocabulary)), dtype=np.float64)
        return np.vstack(rows)
