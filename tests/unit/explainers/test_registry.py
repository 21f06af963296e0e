"""The registry: lookup by method name, clear errors, and a shap-free import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import explainers
from explainers.base import Attribution, Explainer
from explainers.kernel import KernelShap
from explainers.linear import LinearShap
from explainers.permutation import PermutationShap
from explainers.registry import UnknownMethod, create, methods, register
from explainers.tree import TreeShap

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_methods_lists_every_explainer() -> None:
    assert methods() == ["kernel_shap", "linear_shap", "permutation_shap", "tree_shap"]
    assert explainers.methods is methods


def test_create_builds_the_registered_class() -> None:
    explainer = create("linear_shap", np.ones(3), 0.0, np.zeros((1, 3)))
    assert isinstance(explainer, LinearShap)
    assert {TreeShap.method, LinearShap.method, PermutationShap.method, KernelShap.method} == set(methods())


def test_unknown_method_names_the_method_and_the_known_ones() -> None:
    with pytest.raises(UnknownMethod) as info:
        create("deep_shap")
    message = str(info.value)
    assert message == (
        "no explainer registered as 'deep_shap'; known: ['kernel_shap', 'linear_shap', 'permutation_shap', 'tree_shap']"
    )
    assert isinstance(info.value, KeyError)  # callers catching KeyError keep working


def test_registering_a_second_class_under_a_taken_name_fails() -> None:
    class Impostor(Explainer):
        method = "linear_shap"
        exact = True

        def explain(self, row: np.ndarray, output: int = 0) -> Attribution:
            raise NotImplementedError

    with pytest.raises(ValueError, match="already registered"):
        register(Impostor)
    assert create("linear_shap", np.ones(2), 0.0, np.zeros((1, 2))).__class__ is LinearShap


def test_attribution_serializes_to_plain_json() -> None:
    a = Attribution("linear_shap", "logit", 0.5, np.array([1.0, -0.25]), 1.25, exact=True)
    data = json.loads(json.dumps(a.to_dict()))
    assert data == {
        "method": "linear_shap",
        "output_units": "logit",
        "base_value": 0.5,
        "values": [1.0, -0.25],
        "model_output": 1.25,
        "exact": True,
        "additivity_error": 0.0,
    }


def test_importing_explainers_does_not_import_shap() -> None:
    # A fresh interpreter: this test process has long since imported shap.
    code = (
        "import sys, explainers; "
        "assert sorted(explainers.methods()) == ['kernel_shap', 'linear_shap', 'permutation_shap', 'tree_shap']; "
        "print(sorted(m for m in ('shap', 'sklearn', 'lightgbm', 'xgboost') if m in sys.modules))"
    )
    # Fixed argv, no shell: this interpreter running a constant snippet.
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
