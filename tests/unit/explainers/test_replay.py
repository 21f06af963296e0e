"""Record and replay: the replayed explanation is the one shap computes calling the model itself."""

from __future__ import annotations

import numpy as np
import pytest

from explainers.kernel import KernelShap
from explainers.permutation import PermutationShap
from explainers.replay import ReplayMismatch, record, record_and_replay, replay, row_key
from explainers.text import tokenize
from explainers.text_black_box import TokenShap

pytest.importorskip("shap")

N_FEATURES = 7


def _model(x: np.ndarray) -> np.ndarray:
    """Interactions up to third order, so permutation sampling is not exact."""
    x = np.asarray(x, dtype=float)
    return np.tanh(x @ np.linspace(-1, 1, N_FEATURES)) + x[:, 0] * x[:, 1] * x[:, 2] + np.sin(x[:, 3] * x[:, 4])


class Counting:
    def __init__(self) -> None:
        self.calls = 0
        self.rows = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.rows += len(x)
        return _model(x)


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(12, N_FEATURES)), rng.normal(size=N_FEATURES) * 2


@pytest.mark.parametrize("seed", range(3))
def test_permutation_replay_equals_direct_shap_in_one_evaluation(seed: int) -> None:
    background, row = _data(seed)
    direct_model = Counting()
    explainer = PermutationShap(direct_model, background, max_evals=6 * (2 * N_FEATURES + 1), seed=seed, n_outputs=1)
    direct = explainer.explain_sampled(row)
    assert direct_model.calls > 2  # shap on its own: one call per permutation, plus one for the row

    known = {row_key(row): float(_model(row[None])[0])}
    evaluations = []

    def evaluate(rows: list[np.ndarray]) -> np.ndarray:
        evaluations.append(len(rows))
        return _model(np.vstack(rows))

    replayed, recording = record_and_replay(
        lambda model: explainer.explain_sampled(row, model=model, model_output=known[row_key(row)]),
        evaluate,
        known=known,
    )
    assert len(evaluations) == 1
    assert evaluations[0] < direct_model.rows  # duplicates (background, the row itself) go out once
    np.testing.assert_allclose(replayed.attribution.values, direct.attribution.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(replayed.standard_errors, direct.standard_errors, rtol=0, atol=1e-12)
    assert replayed.attribution.base_value == pytest.approx(direct.attribution.base_value, abs=1e-12)
    assert replayed.attribution.additivity_error < 1e-9
    assert all(not np.array_equal(r, row) for r in recording.rows)  # the known row is never asked for


def test_a_prefix_of_permutations_replays_from_the_rows_it_needs() -> None:
    background, row = _data(5)
    per_permutation = 2 * N_FEATURES + 1
    explainer = PermutationShap(_model, background, max_evals=8 * per_permutation, seed=4, n_outputs=1)

    output = float(_model(row[None])[0])

    def run(model, permutations):
        return explainer.explain_sampled(
            row, model=model, model_output=output, max_evals=permutations * per_permutation, standard_errors=False
        )

    recording = record(lambda model: run(model, 8))
    assert len(recording.calls) == 8  # one model call per permutation
    needed = recording.rows_needed(3)
    assert recording.calls_covered(needed) == 3
    assert recording.calls_covered(needed - 1) == 2
    outputs = _model(np.vstack(recording.rows[:needed]))
    partial = replay(lambda model: run(model, 3), recording, outputs)
    direct = explainer.explain_sampled(row, max_evals=3 * per_permutation)
    np.testing.assert_allclose(partial.attribution.values, direct.attribution.values, rtol=0, atol=1e-12)
    with pytest.raises(ReplayMismatch):
        replay(lambda model: run(model, 4), recording, outputs)


def test_kernel_replay_equals_direct_shap_with_weighted_background() -> None:
    background, row = _data(2)
    weights = np.arange(1, len(background) + 1)
    direct_model = Counting()
    explainer = KernelShap(direct_model, background, weights=weights, nsamples=60, seed=9, n_outputs=1)
    direct = explainer.explain_sampled(row)
    known = {row_key(row): float(_model(row[None])[0])}
    replayed, _ = record_and_replay(
        lambda model: explainer.explain_sampled(row, model=model, model_output=known[row_key(row)]),
        lambda rows: _model(np.vstack(rows)),
        known=known,
    )
    np.testing.assert_allclose(replayed.attribution.values, direct.attribution.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(replayed.standard_errors, direct.standard_errors, rtol=0, atol=1e-12)
    assert replayed.attribution.additivity_error < 1e-9


WEIGHTS = {"refund": 2.0, "late": 1.0, "never": 0.5, "arrived": 1.5, "charged": -1.0}


def _text_model(texts: list[str]) -> np.ndarray:
    """A word-count scorer with one interaction (late and never together)."""
    out = []
    for text in texts:
        words = [t.text for t in tokenize(text)]
        out.append(sum(WEIGHTS.get(w, 0.0) for w in words) + 0.7 * ("late" in words and "never" in words))
    return np.array(out)


@pytest.mark.parametrize(("method", "samples"), [("permutation_shap", 4), ("kernel_shap", 40)])
def test_text_replay_equals_direct_shap_and_is_additive(method: str, samples: int) -> None:
    message = "¡I want a refund:  it never arrived, and was late!"
    explainer = TokenShap(method, seed=3)
    direct = explainer.explain_sampled(message, _text_model, samples=samples)
    known = {message: float(_text_model([message])[0])}
    replayed, recording = record_and_replay(
        lambda model: explainer.explain_sampled(message, model, samples=samples, model_output=known[message]),
        lambda rows: _text_model(list(rows)),
        known=known,
    )
    a, d = replayed.sampled.attribution, direct.sampled.attribution
    np.testing.assert_allclose(a.values, d.values, rtol=0, atol=1e-12)
    assert a.additivity_error < 1e-9
    assert a.base_value == pytest.approx(_text_model([""])[0])  # the empty message
    assert message not in recording.rows
    assert [t.text for t in replayed.tokens] == ["want", "refund", "it", "never", "arrived", "and", "was", "late"]
