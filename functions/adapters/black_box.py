"""Black-box runtime: predict with a remote (or library-mode) model and explain it by sampling, in 1-2 calls.

The model is a `BatchModel`: rows in, label probabilities out, one request per batch.
An explanation runs shap's permutation or kernel explainer twice with the same seed
(`explainers.replay`): first to record every row it needs, then, once those rows have
been evaluated in batches of the adapter's `max_batch_rows`, to replay the answers. The
values are exactly those shap computes calling the model itself, but a round trip per
batch instead of one per permutation. The explained row's own output is the decision
call's (`Prediction`), never asked again.

Budget (`explainer.max_evaluations`) counts distinct rows sent. Permutation SHAP records
more permutations than it may need and keeps the longest prefix whose rows fit the
budget; if the deadline passes before every batch is back, the permutations whose rows
did come back are a smaller, still additive, explanation (`partial=True`). Kernel SHAP's
coalitions are not a sequence (its sample depends on the sample size), so it is all or
nothing: no partial explanation.

Background weights: a k-means summary weights each representative row by its cluster
size. Kernel SHAP takes the weights directly; the permutation explainer's masker averages
rows uniformly, so each representative is repeated by its weight: duplicate rows give
identical masked rows, which are sent once, so the weighting costs no model rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np

from explainers.base import Attribution
from explainers.kernel import KernelShap
from explainers.permutation import PermutationShap
from explainers.replay import ModelFunction, Recording, RowKey, record, replay, row_key
from explainers.sampled import SampledAttribution
from explainers.text_black_box import TokenShap
from functions.adapters.background import replicated, summarise
from functions.adapters.in_process import encode_row
from functions.domain.errors import (
    DependencyUnavailable,
    ExplanationUnavailable,
    ManifestError,
    ModelOutputInvalid,
    ModelTimeout,
)
from functions.domain.ports import BatchModel, ExplainedItem, ModelRun, Prediction, Sampling
from functions.domain.presentation import span_key
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import ModelManifest, RemoteCall
from functions.schemas.record import ExplainerRef

LOGIT_CLIP = 1e-12  # probabilities this close to 0 or 1 are clipped before the logit (about +-27.6)
MAX_RECORDED_PERMUTATIONS = 100  # enough to fill any sensible budget; recording more only costs CPU
LIBRARY_CALL_SECONDS = 30.0  # library-mode predict deadline: the function runs in this process


@dataclass(frozen=True)
class _Game:
    """One explanation to sample: `run(model, samples)` and what it needs to be recorded and replayed."""

    run: Callable[[ModelFunction, int, bool], SampledAttribution]  # (model, samples, with standard errors)
    planned: int  # permutations (or Kernel coalitions) to record
    by_permutation: bool  # each model call of `run` is one permutation, so a prefix of calls is an explanation
    known: dict[RowKey, float]  # the explained input -> the decision call's output


class BlackBoxRuntime:
    """`ModelRuntime` for a model seen only through a `BatchModel` (tabular rows or text messages)."""

    def __init__(
        self,
        manifest: ModelManifest,
        model: BatchModel,
        background_rows: Sequence[Mapping[str, FeatureValue]] | None,
        *,
        max_batch_rows: int | None = None,
    ) -> None:
        """Validate the manifest against the model kind, summarise the background; raises ManifestError."""
        spec = manifest.explainer
        if manifest.adapter.type == "in_process" and manifest.adapter.format != "onnx":  # onnx: any graph
            raise ManifestError(
                "adapter.type: in_process models are explained by the in-process runtime", field="adapter"
            )
        if spec.exact:
            raise ManifestError(
                f"explainer.method: {spec.method} needs the model itself; use permutation_shap or kernel_shap",
                field="explainer.method",
            )
        self.manifest = manifest
        self.model = model
        adapter_rows = manifest.adapter.max_batch_rows if isinstance(manifest.adapter, RemoteCall) else None
        self.max_batch_rows = max_batch_rows or adapter_rows  # None: one call takes everything
        self._logit = manifest.output_units in ("log_odds", "logit")
        self._budget = spec.max_evaluations
        self._text = manifest.is_text
        shap_class = "PermutationExplainer" if spec.method == "permutation_shap" else "KernelExplainer"
        self.explainer = ExplainerRef(
            method=spec.method,
            exact=False,
            implementation=f"shap {version('shap')} {shap_class} (batched replay)",
            background_sha256=manifest.background_sha256,
        )
        if self._text:
            self._tokens = TokenShap(spec.method, seed=spec.seed, output_units=manifest.output_units)
            # shap compiles its text masking on first use (seconds): pay that at load, with a stand-in model.
            self._tokens.explain_sampled("warm up", lambda texts: np.zeros(len(texts)), samples=2, model_output=0.0)
            return
        self._background, self._weights = self._summarised(background_rows)
        n, f = self._background.shape
        needs = n * (2 * f + 1)
        if self._budget < needs:
            what = "one permutation of" if spec.method == "permutation_shap" else f"{2 * f} coalitions of"
            raise ManifestError(
                f"explainer.max_evaluations: {self._budget} rows cannot fit {what} {f} features over {n} background"
                f" rows (needs {needs})",
                field="explainer.max_evaluations",
            )
        self._tabular: PermutationShap | KernelShap
        if spec.method == "permutation_shap":
            bg = replicated(self._background, self._weights)
            self._tabular = PermutationShap(
                _not_called,
                bg,
                max_evals=self._budget,
                seed=spec.seed,
                output_units=manifest.output_units,
                max_background=len(bg),
                n_outputs=1,
            )
            PermutationShap.warm_up()  # shap's numba compile, paid at load rather than inside a deadline
        else:
            self._tabular = KernelShap(
                _not_called,
                self._background,
                weights=self._weights,
                nsamples=self._budget // n - 1,  # n background rows, then n rows per coalition
                seed=spec.seed,
                output_units=manifest.output_units,
                n_outputs=1,
            )

    def _summarised(self, rows: Sequence[Mapping[str, FeatureValue]] | None) -> tuple[np.ndarray, np.ndarray]:
        spec = self.manifest.explainer
        if not rows:
            raise ManifestError("background: black-box tabular models need background rows", field="background")
        try:
            encoded = np.array([encode_row(self.manifest, row) for row in rows])
        except (KeyError, ValueError, TypeError) as error:
            raise ManifestError(f"background: a row does not fit the features: {error!r}", field="background") from None
        return summarise(encoded, spec.background_size, spec.background_summary, spec.seed)

    # -- predict -------------------------------------------------------------------------------------------------

    def predict(self, inputs: Mapping[str, FeatureValue]) -> Prediction:
        """One call with one row (or message); explains labels[1] for binary models, else the most likely label."""
        probabilities = self._call([self._input(inputs)], time.monotonic() + self._call_seconds())[0]
        index = 1 if len(self.manifest.labels) == 2 else int(np.argmax(probabilities))
        output = float(self._explained(probabilities[None, :], index)[0])
        return Prediction(tuple(float(p) for p in probabilities), self.manifest.labels[index].name, output)

    def _input(self, inputs: Mapping[str, FeatureValue]) -> Any:
        return str(inputs[self.manifest.features[0].name]) if self._text else encode_row(self.manifest, inputs)

    def _call_seconds(self) -> float:
        adapter = self.manifest.adapter
        if isinstance(adapter, RemoteCall):  # every attempt and its backoff (doubling, jittered up to 1.5x)
            return (
                adapter.max_attempts * adapter.timeout_seconds + 1.5 * adapter.backoff_seconds * 2**adapter.max_attempts
            )
        return LIBRARY_CALL_SECONDS

    def _call(self, rows: Sequence[Any], deadline: float) -> np.ndarray:
        batch: Any = list(rows) if self._text else np.vstack(rows)
        out = np.asarray(self.model(batch, deadline), dtype=np.float64)
        if out.shape != (len(rows), len(self.manifest.labels)) or not np.all(np.isfinite(out)):
            raise ModelOutputInvalid(
                f"model {self.manifest.id}: expected ({len(rows)}, {len(self.manifest.labels)}) probabilities,"
                f" got shape {out.shape}"
            )
        return out

    def _explained(self, probabilities: np.ndarray, index: int) -> np.ndarray:
        """The explained output: the label's probability, or its logit when the manifest's units say so."""
        p = probabilities[:, index]
        if not self._logit:
            return p
        p = np.clip(p, LOGIT_CLIP, 1 - LOGIT_CLIP)
        return np.log(p) - np.log1p(-p)

    # -- explain -------------------------------------------------------------------------------------------------

    def explain(self, inputs: Mapping[str, FeatureValue], prediction: Prediction, deadline: float) -> ModelRun:
        """Record, evaluate in batches until `deadline`, replay; raises ExplanationUnavailable."""
        index = [label.name for label in self.manifest.labels].index(prediction.explained_label)
        calls_before = self.model.requests_sent
        x = self._input(inputs)
        game = self._text_game(x, prediction) if self._text else self._tabular_game(x, prediction)
        if game is None:  # a message without words: nothing to attribute, nothing to send
            attribution = Attribution(
                self.explainer.method,
                self.manifest.output_units,
                prediction.model_output,
                np.zeros(0),
                prediction.model_output,
                exact=False,
            )
            return ModelRun(attribution, (), self._sampling(0, 0, 0.0))
        recording = record(lambda model: game.run(model, game.planned, False), known=game.known)
        samples, needed = self._fit_budget(game, recording)
        outputs, sent = self._evaluate(recording.rows[:needed], index, deadline)
        partial = len(outputs) < needed
        if partial:
            samples = min(samples, recording.calls_covered(len(outputs))) if game.by_permutation else 0
            if samples == 0:
                raise ExplanationUnavailable(
                    f"model {self.manifest.id}: {len(outputs)} of {needed} rows came back before the deadline,"
                    " not enough for any explanation"
                )
        result = replay(lambda model: game.run(model, samples, True), recording, outputs, known=game.known)
        items, attribution, errors = self._items(inputs, x, result)
        calls = self.model.requests_sent - calls_before
        return ModelRun(attribution, items, self._sampling(sent, calls, float(errors.max(initial=0.0))), partial)

    def _tabular_game(self, row: np.ndarray, prediction: Prediction) -> _Game:
        output = prediction.model_output
        known = {row_key(row): output}
        explainer = self._tabular
        if isinstance(explainer, KernelShap):
            return _Game(
                lambda model, n, _: explainer.explain_sampled(row, model=model, model_output=output, nsamples=n),
                explainer.nsamples,
                False,
                known,
            )
        per_permutation = explainer.evaluations_per_permutation(row)
        n = len(self._background)
        # Distinct rows per permutation: at most n per intermediate coalition (2F' - 2 of them).
        estimate = (self._budget - n) // max(n * (per_permutation - 3), 1) + 1
        planned = 1 if per_permutation == 1 else min(2 * estimate, self._budget // per_permutation)
        planned = max(1, min(planned, MAX_RECORDED_PERMUTATIONS))
        return _Game(
            lambda model, p, errors: explainer.explain_sampled(
                row, model=model, model_output=output, max_evals=p * per_permutation, standard_errors=errors
            ),
            planned,
            True,
            known,
        )

    def _text_game(self, message: str, prediction: Prediction) -> _Game | None:
        n_tokens = len(self._tokens.tokens(message))
        if n_tokens == 0:
            return None
        output = prediction.model_output

        def run(model: ModelFunction, samples: int, errors: bool) -> SampledAttribution:
            return self._tokens.explain_sampled(
                message, model, samples=samples, model_output=output, standard_errors=errors
            ).sampled

        if self._tokens.method == "kernel_shap":
            return _Game(run, max(self._budget - 1, 2), False, {message: output})  # one background row: ""
        # Distinct rows per permutation: at most the 2T - 2 intermediate coalitions ("" is shared).
        estimate = (self._budget - 1) // max(2 * n_tokens - 2, 1) + 1
        return _Game(run, max(1, min(2 * estimate, MAX_RECORDED_PERMUTATIONS)), True, {message: output})

    def _fit_budget(self, game: _Game, recording: Recording) -> tuple[int, int]:
        """Samples to use and rows to send: the longest prefix of permutations within the budget, or everything."""
        if not game.by_permutation:
            return game.planned, len(recording.rows)
        samples = min(game.planned, recording.calls_covered(self._budget))
        if samples == 0:
            raise ExplanationUnavailable(
                f"explainer.max_evaluations: {self._budget} rows cannot fit one permutation of this input"
                f" (needs {recording.rows_needed(1)})"
            )
        return samples, recording.rows_needed(samples)

    def _evaluate(self, rows: list[Any], index: int, deadline: float) -> tuple[np.ndarray, int]:
        """Explained outputs of the leading rows answered before `deadline`, and how many rows were sent."""
        chunk = self.max_batch_rows or max(len(rows), 1)
        answered: list[np.ndarray] = []
        sent = 0
        for start in range(0, len(rows), chunk):
            if time.monotonic() >= deadline:
                break
            batch = rows[start : start + chunk]
            sent += len(batch)
            try:
                probabilities = self._call(batch, deadline)
            except ModelTimeout:
                break  # out of time: keep what came back
            except (DependencyUnavailable, ModelOutputInvalid) as error:
                raise ExplanationUnavailable(
                    f"model {self.manifest.id} failed while explaining: {error.message}"
                ) from error
            answered.append(self._explained(probabilities, index))
        return (np.concatenate(answered) if answered else np.zeros(0)), sent

    def _items(
        self, inputs: Mapping[str, FeatureValue], x: Any, result: SampledAttribution
    ) -> tuple[tuple[ExplainedItem, ...], Attribution, np.ndarray]:
        a = result.attribution
        if not self._text:
            items = tuple(
                ExplainedItem(key=f.name, value=inputs[f.name], attribution=float(v))
                for f, v in zip(self.manifest.features, a.values, strict=True)
            )
            return items, a, result.standard_errors
        # One item per distinct word: occurrences summed, every occurrence's span kept. The
        # standard error of a sum is at most the sum of the standard errors.
        groups: dict[str, list[int]] = {}
        tokens = self._tokens.tokens(x)
        for position, token in enumerate(tokens):
            groups.setdefault(token.text, []).append(position)
        values = np.array([a.values[p].sum() for p in groups.values()])
        errors = np.array([result.standard_errors[p].sum() for p in groups.values()])
        items = tuple(
            ExplainedItem(
                key=span_key(tokens[positions[0]].start, tokens[positions[0]].end),  # records never quote the text
                value=len(positions),
                attribution=float(value),
                spans=tuple((tokens[p].start, tokens[p].end) for p in positions),
            )
            for positions, value in zip(groups.values(), values, strict=True)
        )
        grouped = Attribution(a.method, a.output_units, a.base_value, values, a.model_output, exact=False)
        return items, grouped, errors

    def _sampling(self, evaluations: int, calls: int, standard_error: float) -> Sampling:
        spec = self.manifest.explainer
        return Sampling(spec.seed, spec.max_evaluations, evaluations, calls, standard_error)


def _not_called(rows: np.ndarray) -> np.ndarray:
    raise RuntimeError("black-box explainers run only through record/replay, with the model passed per call")
