"""BlackBoxRuntime: batched record/replay explanations of a model seen only through a BatchModel."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from explainers.permutation import PermutationShap
from explainers.text import tokenize
from functions.adapters import black_box
from functions.adapters.background import kmeans_rows
from functions.adapters.black_box import BlackBoxRuntime
from functions.domain.errors import ExplanationUnavailable, ManifestError, ModelTimeout, ModelUnavailable
from functions.schemas.manifest import ModelManifest

shap = pytest.importorskip("shap")

CATEGORIES = ["chat", "email", "phone"]
FEATURES = ["amount", "days", "refunds", "tenure", "channel"]


def _names(name: str) -> dict[str, str]:
    return {"en": name}


def _manifest(method: str = "permutation_shap", **explainer: Any) -> ModelManifest:
    features = [{"name": n, "type": "number", "display_names": _names(n)} for n in FEATURES[:-1]]
    features.append({"name": "channel", "type": "category", "display_names": _names("c"), "categories": CATEGORIES})
    settings = {"method": method, "max_evaluations": 2000, "background_size": 8, "seed": 3} | explainer
    return ModelManifest.model_validate(
        {
            "id": "refund-remote",
            "version": "1.0.0",
            "kind": "decision",
            "description": "test",
            "adapter": {"type": "https_endpoint", "url": "https://127.0.0.1:8443/predict", "max_batch_rows": 5000},
            "features": features,
            "labels": [
                {"name": "deny", "display_names": _names("d")},
                {"name": "approve", "display_names": _names("a")},
            ],
            "favourable_outcome": "approve",
            "explainer": settings,
            "background": {"path": "background.json", "sha256": "0" * 64},
            "output_units": "log_odds",
        }
    )


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.column_stack(
        [
            rng.gamma(2, 50, 3000),
            rng.integers(0, 60, 3000),
            rng.integers(0, 5, 3000),
            rng.normal(size=3000),
            rng.integers(0, 3, 3000),
        ]
    ).astype(float)
    signal = -x[:, 0] / 100 + (x[:, 1] < 30) * x[:, 3] - 0.6 * x[:, 2] + (x[:, 4] == 2) * (x[:, 0] > 120)
    y = (signal + rng.normal(size=3000) > -1).astype(int)
    return x, y


@pytest.fixture(scope="module")
def booster(data: tuple[np.ndarray, np.ndarray]) -> lgb.Booster:
    x, y = data
    params = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": 1, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=60)


class FakeModel:
    """A BatchModel over a LightGBM booster (or any probability function); counts requests and rows."""

    def __init__(self, probabilities: Any, *, fail_on_request: int | None = None, error: Exception | None = None):
        self.probabilities = probabilities
        self.requests_sent = 0
        self.rows_seen: list[int] = []
        self.fail_on_request = fail_on_request
        self.error = error or ModelUnavailable("endpoint said 500")
        self.on_request: Any = None

    def __call__(self, rows: Any, deadline: float) -> np.ndarray:
        self.requests_sent += 1
        if self.on_request is not None:
            self.on_request()
        if self.fail_on_request is not None and self.requests_sent >= self.fail_on_request:
            raise self.error
        self.rows_seen.append(len(rows))
        return self.probabilities(rows)


def _lgb_model(booster: lgb.Booster, **kwargs: Any) -> FakeModel:
    def probabilities(rows: np.ndarray) -> np.ndarray:
        p = booster.predict(np.asarray(rows, dtype=float), num_threads=1)
        return np.column_stack([1 - p, p])

    return FakeModel(probabilities, **kwargs)


def _records(x: np.ndarray) -> list[dict[str, Any]]:
    return [dict(zip(FEATURES[:-1], map(float, r[:-1]), strict=True)) | {"channel": CATEGORIES[int(r[-1])]} for r in x]


@pytest.fixture(scope="module")
def background(data: tuple[np.ndarray, np.ndarray]) -> list[dict[str, Any]]:
    return _records(data[0][:100])


@pytest.fixture(scope="module")
def requests(data: tuple[np.ndarray, np.ndarray]) -> list[dict[str, Any]]:
    return _records(data[0][2000:2004])


def _runtime(booster: lgb.Booster, background: list[dict[str, Any]], method: str = "permutation_shap", **kw: Any):
    model = kw.pop("model", None) or _lgb_model(booster)
    return BlackBoxRuntime(_manifest(method, **kw), model, background), model


@pytest.mark.parametrize("summary", ["sample", "kmeans"])
def test_permutation_replay_equals_shap_calling_the_model_itself(booster, background, requests, summary) -> None:
    runtime, model = _runtime(booster, background, background_summary=summary)
    request = requests[0]
    prediction = runtime.predict(request)
    run = runtime.explain(request, prediction, deadline=math.inf)
    assert model.requests_sent == 2  # the decision call, then one call for the whole explanation
    assert run.sampling is not None and run.sampling.model_calls == 1
    assert run.sampling.evaluations == model.rows_seen[-1] <= 2000
    assert not run.partial

    # shap on its own, on the same (replicated) background, seed and number of permutations, calling the model.
    x = np.array([request[f] if f != "channel" else CATEGORIES.index(request[f]) for f in FEATURES], dtype=float)
    explainer = runtime._tabular
    assert isinstance(explainer, PermutationShap)

    def margin(rows: np.ndarray) -> np.ndarray:
        p = np.clip(booster.predict(rows, num_threads=1), 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    direct = PermutationShap(margin, explainer.background, max_evals=2000, seed=3, max_background=10_000)
    permutations = 2000  # as many as the budget of rows allows: find it from the run's own replay
    for p in range(1, 100):
        candidate = direct.explain_sampled(x, max_evals=p * direct.evaluations_per_permutation(x))
        if np.allclose(candidate.attribution.values, run.attribution.values, rtol=0, atol=1e-12):
            permutations = p
            break
    assert permutations < 2000, "no number of permutations reproduces the replayed values"
    np.testing.assert_allclose(candidate.attribution.values, run.attribution.values, rtol=0, atol=1e-12)
    assert run.sampling.standard_error == pytest.approx(candidate.max_standard_error, abs=1e-12)


@pytest.mark.parametrize("method", ["permutation_shap", "kernel_shap"])
def test_attributions_add_up_to_the_decision_output_and_repeat(booster, background, requests, method) -> None:
    runtime, _ = _runtime(booster, background, method)
    for request in requests:
        prediction = runtime.predict(request)
        p = prediction.probabilities[1]
        assert prediction.explained_label == "approve"
        assert prediction.model_output == pytest.approx(math.log(p / (1 - p)), abs=1e-9)
        first = runtime.explain(request, prediction, deadline=math.inf)
        again = runtime.explain(request, prediction, deadline=math.inf)
        a = first.attribution
        assert a.model_output == prediction.model_output
        assert abs(a.base_value + a.values.sum() - prediction.model_output) < 1e-9
        assert np.array_equal(a.values, again.attribution.values)  # same request, same explanation
        assert [i.key for i in first.items] == FEATURES
        assert first.items[-1].value == request["channel"]
        assert runtime.explainer.implementation.endswith("(batched replay)")
        assert runtime.explainer.exact is False


@pytest.mark.parametrize("method", ["permutation_shap", "kernel_shap"])
def test_agrees_with_exact_interventional_tree_shap_within_its_standard_errors(
    booster, background, requests, method
) -> None:
    runtime, _ = _runtime(booster, background, method, background_summary="sample")
    reference = shap.TreeExplainer(
        booster, data=runtime._background, feature_perturbation="interventional", model_output="raw"
    )
    worst, worst_path = 0.0, 0.0
    for request in requests:
        prediction = runtime.predict(request)
        run = runtime.explain(request, prediction, deadline=math.inf)
        x = np.array([[request[f] if f != "channel" else CATEGORIES.index(request[f]) for f in FEATURES]], float)
        exact = np.asarray(reference.shap_values(x, check_additivity=False)).reshape(-1)
        path = booster.predict(x, pred_contrib=True)[0, :-1]
        error = np.abs(run.attribution.values - exact)
        assert run.sampling is not None
        assert error.max() <= 4 * run.sampling.standard_error + 1e-6
        worst = max(worst, float(error.max()))
        worst_path = max(worst_path, float(np.abs(run.attribution.values - path).max()))
    print(f"\n{method}: max abs error vs interventional TreeSHAP {worst:.4f}; vs path-dependent {worst_path:.4f}")


def test_batches_follow_max_batch_rows(booster, background, requests) -> None:
    runtime, model = _runtime(booster, background)
    runtime.max_batch_rows = 300
    prediction = runtime.predict(requests[1])
    run = runtime.explain(requests[1], prediction, deadline=math.inf)
    assert run.sampling is not None
    assert run.sampling.model_calls == math.ceil(run.sampling.evaluations / 300)
    assert all(n <= 300 for n in model.rows_seen)


def test_deadline_keeps_the_permutations_that_came_back(booster, background, requests, monkeypatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(black_box.time, "monotonic", lambda: clock[0])
    runtime, model = _runtime(booster, background)
    runtime.max_batch_rows = 40
    prediction = runtime.predict(requests[2])
    full = runtime.explain(requests[2], prediction, deadline=math.inf)
    model.on_request = lambda: clock.__setitem__(0, clock[0] + 1.0)  # every request takes a second
    calls_before = model.requests_sent
    run = runtime.explain(requests[2], prediction, deadline=clock[0] + 2.5)
    assert run.partial
    assert model.requests_sent - calls_before == 3  # the third batch comes back after the deadline; no fourth
    assert run.sampling is not None and run.sampling.evaluations < full.sampling.evaluations  # type: ignore[union-attr]
    assert abs(run.attribution.additivity_error) < 1e-9
    assert not np.array_equal(run.attribution.values, full.attribution.values)


def test_no_explanation_when_nothing_usable_came_back(booster, background, requests) -> None:
    runtime, model = _runtime(booster, background)
    prediction = runtime.predict(requests[0])
    with pytest.raises(ExplanationUnavailable):
        runtime.explain(requests[0], prediction, deadline=0.0)  # long past
    model.fail_on_request = model.requests_sent + 1
    model.error = ModelTimeout("too slow")
    with pytest.raises(ExplanationUnavailable):
        runtime.explain(requests[0], prediction, deadline=math.inf)


@pytest.mark.parametrize("method", ["permutation_shap", "kernel_shap"])
def test_model_failure_while_explaining_is_explanation_unavailable(booster, background, requests, method) -> None:
    runtime, model = _runtime(booster, background, method)
    prediction = runtime.predict(requests[0])
    model.fail_on_request = model.requests_sent + 1
    with pytest.raises(ExplanationUnavailable, match="failed while explaining"):
        runtime.explain(requests[0], prediction, deadline=math.inf)
    model.fail_on_request = None
    model.probabilities = lambda rows: np.full((len(rows), 3), 0.3)  # wrong width
    with pytest.raises(ExplanationUnavailable):
        runtime.explain(requests[0], prediction, deadline=math.inf)


@pytest.mark.parametrize(
    ("method", "message"),
    [
        (
            "permutation_shap",
            "explainer.max_evaluations: 80 rows cannot fit one permutation of 5 features over 8"
            " background rows (needs 88)",
        ),
        ("kernel_shap", "explainer.max_evaluations: 80 rows cannot fit 10 coalitions of 5 features"),
    ],
)
def test_budget_too_small_is_a_manifest_error_naming_the_field(booster, background, method, message) -> None:
    with pytest.raises(ManifestError) as info:
        _runtime(booster, background, method, max_evaluations=80)
    assert info.value.field == "explainer.max_evaluations"
    assert message in info.value.message


def test_kmeans_keeps_real_rows_weighted_by_cluster_size(data) -> None:
    x = data[0][:200]
    rows, weights = kmeans_rows(x, 10, seed=0)
    assert len(rows) <= 10
    assert weights.sum() == 200
    assert all(any(np.array_equal(r, real) for real in x) for r in rows)


WORD_WEIGHTS = {"refund": 2.0, "late": 1.0, "never": 0.5, "arrived": 1.5, "charged": -1.0, "twice": -0.5}


def _text_probabilities(texts: list[str]) -> np.ndarray:
    """Three queues; a softmax over word-count scores with an interaction."""
    rows = []
    for text in texts:
        words = [t.text for t in tokenize(text)]
        refunds = sum(WORD_WEIGHTS.get(w, 0.0) for w in words)
        shipping = words.count("late") + 0.8 * ("never" in words and "arrived" in words)
        rows.append([0.2, refunds, shipping])
    z = np.array(rows)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _text_manifest(method: str) -> ModelManifest:
    data = json.loads((Path(__file__).resolve().parents[3] / "models/ticket-router/manifest.json").read_text())
    data |= {
        "adapter": {"type": "python_callable"},
        "explainer": {"method": method, "max_evaluations": 500, "seed": 1},
        "labels": [{"name": n, "display_names": _names(n)} for n in ("account", "refunds", "shipping")],
    }
    data.pop("artifact")
    return ModelManifest.model_validate(data)


@pytest.mark.parametrize("method", ["permutation_shap", "kernel_shap"])
def test_text_attributions_point_at_the_words_and_add_up(method: str) -> None:
    model = FakeModel(_text_probabilities)
    runtime = BlackBoxRuntime(_text_manifest(method), model, None)
    message = "My refund never arrived... refund please, it is LATE!"
    inputs = {"text": message}
    prediction = runtime.predict(inputs)
    assert prediction.explained_label == "refunds"  # multiclass: the most likely label
    run = runtime.explain(inputs, prediction, deadline=math.inf)
    assert run.sampling is not None and run.sampling.model_calls == 1
    assert run.sampling.evaluations <= 500
    assert abs(run.attribution.base_value + sum(i.attribution for i in run.items) - prediction.model_output) < 1e-9
    # Keyed by the first occurrence's position: records never quote the message itself.
    by_word = {message[slice(*i.spans[0])].lower(): i for i in run.items if i.spans}
    assert {i.key for i in run.items} == {f"span:{a}-{b}" for a, b in (i.spans[0] for i in run.items if i.spans)}
    assert by_word["refund"].value == 2
    assert [message[a:b] for a, b in by_word["refund"].spans or ()] == ["refund", "refund"]
    assert [message[a:b] for a, b in by_word["late"].spans or ()] == ["LATE"]
    assert by_word["refund"].attribution > by_word["please"].attribution
    # The base value is the output on the empty message (every word removed).
    empty = float(_text_probabilities([""])[0, 1])
    assert run.attribution.base_value == pytest.approx(math.log(empty / (1 - empty)), abs=1e-12)  # logit units
