"""SHAP engine: explainers keyed by method name, returning plain attributions.

Importing this package registers every explainer but does not import shap; only
`permutation_shap` needs it, and loads it when one is built.
"""

from explainers import linear, permutation, tree
from explainers.base import Attribution, Explainer
from explainers.registry import UnknownMethod, create, methods

__all__ = ["Attribution", "Explainer", "UnknownMethod", "create", "linear", "methods", "permutation", "tree"]
