"""SHAP engine: explainers keyed by method name, returning plain attributions.

Importing this package registers every explainer but does not import shap; only the
sampling explainers (`permutation_shap`, `kernel_shap`) need it, and load it when used.
"""

from explainers import kernel, linear, permutation, tree
from explainers.base import Attribution, Explainer
from explainers.registry import UnknownMethod, create, methods

__all__ = [
    "Attribution",
    "Explainer",
    "UnknownMethod",
    "create",
    "kernel",
    "linear",
    "methods",
    "permutation",
    "tree",
]
