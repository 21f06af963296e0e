"""Explainers keyed by method name, so a manifest can choose one by string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from explainers.base import Explainer

_E = TypeVar("_E", bound=type[Explainer])
_REGISTRY: dict[str, type[Explainer]] = {}


class UnknownMethod(KeyError):
    pass


def register(cls: _E) -> _E:
    """Class decorator: make `cls` available under `cls.method`."""
    _REGISTRY[cls.method] = cls
    return cls


def methods() -> list[str]:
    return sorted(_REGISTRY)


def create(method: str, /, *args: Any, **kwargs: Any) -> Explainer:
    """Build the explainer registered as `method` with the given model and settings."""
    try:
        cls = _REGISTRY[method]
    except KeyError:
        raise UnknownMethod(f"no explainer registered as {method!r}; known: {methods()}") from None
    return cls(*args, **kwargs)


Factory = Callable[..., Explainer]
