"""Token attributions for black-box text classifiers: shap's Text masker over Candor's tokenizer.

Each word of the message (as `explainers.text.tokenize` finds it) is one player; a
masked word is removed from the message, so the baseline is the empty message, as for
the in-process linear text models, and the attributions add up to f(message) - f("").
The masker's segments cover the whole message (a segment runs from its word to the next
word; the first also takes what precedes it), so with every word present the masker
rebuilds the message itself; shap then collapses runs of whitespace, so that rendering
is mapped back to the original message, whose output the decision call already has.

Methods: `permutation_shap` runs shap's PermutationExplainer on the Text masker with
plain permutations (the masker's token tree is switched off: that would give Owen values
over shap's heuristic clustering, not Shapley values); `kernel_shap` runs Kernel SHAP
over word-presence indicators rendered through the same masker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from explainers.base import Attribution
from explainers.kernel import KernelShap
from explainers.sampled import SampledAttribution, permutation_standard_errors, seeded_global_rng
from explainers.text import Token, tokenize

TextModel = Callable[[Sequence[str]], np.ndarray]
"""Messages -> (n,) outputs, in the units being explained."""


class _Tokenizer:
    """The part of the HuggingFace tokenizer API that shap's Text masker uses, over `tokenize`."""

    # A "mask token" that is the empty string removes masked words. The id is never used
    # for string output; giving one stops shap from tokenizing "" to find it.
    mask_token = ""
    mask_token_id = -1

    def __call__(self, s: str, return_offsets_mapping: bool = True) -> dict[str, Any]:
        tokens = tokenize(s)
        offsets = [(t.start, t.end) for t in tokens]
        if offsets:  # widen the ends so the segments cover every character of the message
            offsets[0] = (0, offsets[0][1])
            offsets[-1] = (offsets[-1][0], len(s))
        out: dict[str, Any] = {"input_ids": [t.text for t in tokens]}
        if return_offsets_mapping:
            out["offset_mapping"] = offsets
        return out


@cache
def _masker_class() -> type:
    import shap  # lazily, as everywhere in `explainers`

    class PlainPermutationText(shap.maskers.Text):
        clustering = None  # plain permutations: Shapley values, not Owen values over a token tree

    return PlainPermutationText


@dataclass(frozen=True, eq=False)
class TokenAttribution:
    """Attributions per word position: `sampled.attribution.values[i]` belongs to `tokens[i]`."""

    tokens: tuple[Token, ...]
    sampled: SampledAttribution


class TokenShap:
    """Sampled SHAP over the words of one message, for a model seen only through `TextModel` calls."""

    def __init__(self, method: str, *, seed: int = 0, output_units: str = "raw") -> None:
        if method not in ("permutation_shap", "kernel_shap"):
            raise ValueError(f"text black boxes are explained with permutation_shap or kernel_shap, not {method!r}")
        self.method = method
        self.seed = int(seed)
        self.output_units = output_units

    @staticmethod
    def tokens(message: str) -> tuple[Token, ...]:
        """The players: every word of `message`, in order."""
        return tuple(tokenize(message))

    @staticmethod
    def rows_per_sample(message: str) -> int:
        """Rows one sample asks for: 2T + 1 per permutation, 1 per Kernel coalition (one background: "")."""
        return 2 * len(tokenize(message)) + 1

    def explain_sampled(
        self,
        message: str,
        model: TextModel,
        *,
        samples: int,
        model_output: float | None = None,
        standard_errors: bool = True,
    ) -> TokenAttribution:
        """Attributions of `message`'s words from `samples` permutations (or Kernel coalitions).

        `model_output`, f(message), spares one call when the caller has it;
        `standard_errors=False` skips the local work behind permutation standard errors.
        """
        tokens = self.tokens(message)
        if model_output is None:
            model_output = float(np.asarray(model([message]), dtype=np.float64).reshape(-1)[0])
        if not tokens:  # nothing to attribute: the whole output is the base value
            empty = SampledAttribution(self._attribution(model_output, np.zeros(0), model_output), np.zeros(0), 0)
            return TokenAttribution(tokens, empty)
        masker = _masker_class()(_Tokenizer(), collapse_mask_token=True)
        full = str(masker(np.ones(len(tokens), dtype=bool), message)[0][0])

        def calls(texts: Any) -> np.ndarray:
            # The all-words rendering is the message itself, up to whitespace (see module docstring).
            asked = [message if str(t) == full else str(t) for t in texts]
            return np.asarray(model(asked), dtype=np.float64).reshape(-1)

        if self.method == "permutation_shap":
            sampled = self._permutation(message, masker, calls, samples, model_output, standard_errors)
        else:
            sampled = self._kernel(message, masker, calls, samples, model_output)
        return TokenAttribution(tokens, sampled)

    def _permutation(
        self, message: str, masker: Any, calls: TextModel, permutations: int, model_output: float, errors: bool
    ) -> SampledAttribution:
        import shap

        per_permutation = self.rows_per_sample(message)

        def run(permutations: int) -> Any:
            with seeded_global_rng(self.seed):
                explainer = shap.PermutationExplainer(calls, masker, seed=self.seed)
                # One model call per permutation (batch_size), so a deadline can keep whole permutations.
                return explainer(
                    [message],
                    max_evals=permutations * per_permutation,
                    batch_size=per_permutation,
                    error_bounds=True,
                    silent=True,
                )

        def values_after(permutations: int) -> np.ndarray:
            return np.asarray(run(permutations).values, dtype=np.float64).reshape(-1)

        result = run(permutations)
        values = np.asarray(result.values, dtype=np.float64).reshape(-1)
        base = float(np.asarray(result.base_values, dtype=np.float64).reshape(-1)[0])
        if errors and permutations >= 2:
            std_errors = permutation_standard_errors(values_after, values, permutations)
        else:  # the spread of single passes: an upper bound (as PermutationShap.explain_sampled)
            std_errors = np.asarray(result.error_std, dtype=np.float64).reshape(-1)
        return SampledAttribution(self._attribution(base, values, model_output), std_errors, permutations)

    def _kernel(
        self, message: str, masker: Any, calls: TextModel, nsamples: int, model_output: float
    ) -> SampledAttribution:
        n_tokens = len(self.tokens(message))

        def indicators(masks: np.ndarray) -> np.ndarray:
            texts = [str(masker(mask > 0.5, message)[0][0]) for mask in np.atleast_2d(masks)]
            return calls(texts)

        kernel = KernelShap(
            indicators,
            np.zeros((1, n_tokens)),
            nsamples=nsamples,
            seed=self.seed,
            output_units=self.output_units,
            n_outputs=1,
        )
        sampled = kernel.explain_sampled(np.ones(n_tokens), 0, model_output=model_output)
        a = sampled.attribution
        return SampledAttribution(
            self._attribution(a.base_value, a.values, model_output), sampled.standard_errors, sampled.samples
        )

    def _attribution(self, base: float, values: np.ndarray, model_output: float) -> Attribution:
        return Attribution(
            method=self.method,
            output_units=self.output_units,
            base_value=base,
            values=values,
            model_output=model_output,
            exact=False,
        )
