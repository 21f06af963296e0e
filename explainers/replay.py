"""Record and replay: every row a sampling explainer needs, sent to the model in a few batched calls.

shap's model-agnostic explainers call the model many times per explanation (the
permutation explainer once per permutation), which over a network means one round trip
each. But the rows they ask for depend only on the input, the background and the seeded
RNG, never on the answers: the permutation explainer draws permutations from `np.random`
and skips rows by comparing input and background (shap.utils.MaskedModel's "varying
rows"); the kernel explainer draws coalitions from `np.random` before it evaluates any of
them. So one explanation can be run twice with the same seed:

1. **record**: the model is a stand-in that writes down every row asked for and answers
   placeholders; the explainer's result is thrown away;
2. the distinct rows are evaluated by the real model, in as few batches as it accepts;
3. **replay**: the model is a lookup table of those answers, so the explainer computes
   exactly what it would have computed calling the model itself.

A row the replay did not record means the explainer's rows did depend on the answers;
that raises `ReplayMismatch` instead of returning a wrong explanation.

Rows are numeric (1-D arrays, keyed by their bytes) or strings (text models).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
RowKey = bytes | str
ModelFunction = Callable[[Any], np.ndarray]
"""What an explainer calls: a batch of rows ((n, F) array, or n strings) -> (n,) or (n, K) outputs."""


class ReplayMismatch(RuntimeError):
    """The replayed explainer asked for a row the recording did not: its rows depended on the outputs."""


def row_key(row: Any) -> RowKey:
    """A hashable identity for one row: the string itself, or the bytes of the float64 values."""
    if isinstance(row, str | np.str_):
        return str(row)
    return np.ascontiguousarray(row, dtype=np.float64).tobytes()


@dataclass
class Recording:
    """The rows one explanation needs, in the order it first asks for them.

    `rows[i]` is the i-th distinct row not known in advance; `calls[c]` lists, for the
    explainer's c-th model call, the index in `rows` of each row it asked for (known rows,
    such as the explained input itself, are left out: they need no evaluation).
    """

    rows: list[Any] = field(default_factory=list)
    calls: list[np.ndarray] = field(default_factory=list)

    def rows_needed(self, n_calls: int) -> int:
        """How many leading `rows` the first `n_calls` calls need (rows go out in this order)."""
        needed = [int(c.max()) + 1 for c in self.calls[:n_calls] if c.size]
        return max(needed, default=0)

    def calls_covered(self, n_rows: int) -> int:
        """How many leading calls can be answered once the first `n_rows` rows are evaluated."""
        for index, call in enumerate(self.calls):
            if call.size and int(call.max()) >= n_rows:
                return index
        return len(self.calls)


class _Recorder:
    def __init__(self, known: Mapping[RowKey, Any], output_shape: tuple[int, ...]) -> None:
        self._known = known
        self._output_shape = output_shape
        self._index: dict[RowKey, int] = {}
        self.recording = Recording()

    def __call__(self, rows: Any) -> np.ndarray:
        positions = []
        for row in rows:
            key = row_key(row)
            if key in self._known:
                continue
            if key not in self._index:
                self._index[key] = len(self.recording.rows)
                self.recording.rows.append(str(row) if isinstance(row, str | np.str_) else np.array(row, dtype=float))
            positions.append(self._index[key])
        self.recording.calls.append(np.array(positions, dtype=np.int64))
        # Zeros are as good as any placeholder: the explainer's rows do not depend on them.
        return np.zeros((len(rows), *self._output_shape))


class _Replayer:
    def __init__(self, table: Mapping[RowKey, Any], output_shape: tuple[int, ...]) -> None:
        self._table = table
        self._output_shape = output_shape

    def __call__(self, rows: Any) -> np.ndarray:
        out = np.empty((len(rows), *self._output_shape))
        for i, row in enumerate(rows):
            try:
                out[i] = self._table[row_key(row)]
            except KeyError:
                raise ReplayMismatch(
                    "the explainer asked for a row it did not ask for when recording; refusing to guess its output"
                ) from None
        return out


def record(
    run: Callable[[ModelFunction], Any],
    *,
    known: Mapping[RowKey, Any] | None = None,
    output_shape: tuple[int, ...] = (),
) -> Recording:
    """Run `run(model)` with a recording stand-in model and return the rows it asked for.

    `run` must build and call the explainer with the seed it will use for the replay.
    Rows whose key is in `known` (e.g. the explained input, whose output the decision call
    already gave) are not recorded. `output_shape` is one row's output shape: () for one
    output per row, (K,) for K.
    """
    recorder = _Recorder(known or {}, output_shape)
    run(recorder)
    return recorder.recording


def replay(
    run: Callable[[ModelFunction], T],
    recording: Recording,
    outputs: np.ndarray,
    *,
    known: Mapping[RowKey, Any] | None = None,
    output_shape: tuple[int, ...] = (),
) -> T:
    """Run `run(model)` again, answering every model call from `outputs` (one per recorded row, in order).

    `outputs` may cover only the first rows of the recording (a deadline cut the
    evaluation short); `run` must then ask for no more than those, e.g. fewer
    permutations (see `Recording.calls_covered`). Raises ReplayMismatch otherwise.
    """
    table: dict[RowKey, Any] = dict(known or {})
    for row, output in zip(recording.rows, outputs, strict=False):
        table[row_key(row)] = output
    return run(_Replayer(table, output_shape))


def record_and_replay(
    run: Callable[[ModelFunction], T],
    evaluate: Callable[[Sequence[Any]], np.ndarray],
    *,
    known: Mapping[RowKey, Any] | None = None,
    output_shape: tuple[int, ...] = (),
) -> tuple[T, Recording]:
    """Record, evaluate every distinct row with one `evaluate(rows)` call, replay; for callers without deadlines."""
    recording = record(run, known=known, output_shape=output_shape)
    outputs = evaluate(recording.rows) if recording.rows else np.zeros((0, *output_shape))
    return replay(
        run, recording, np.asarray(outputs, dtype=np.float64), known=known, output_shape=output_shape
    ), recording
