"""Explainers keyed by method name, so a manifest can choose one by string."""

from __future__ import annotations

from typing import Any, TypeVar

from explainers.base import Explainer

_E = TypeVar("_E", bound=type[Explainer])
_REGISTRY: dict[str, type[Explainer]] = {}


class UnknownMethod(KeyError):
    """No explainer is registered under the requested method name."""

    def __str__(self) -> str:
        # KeyError.__str__ repr()s its argument, wrapping the message in quotes.
        return str(self.args[0]) if self.args else super().__str__()


def register(cls: _E) -> _E:
    """Class decorator: make `cls` available under `cls.method`.

    Registering a different class under a name already taken is a programming error
    (two modules would silently fight over one manifest string), so it raises.
    """
    existing = _REGISTRY.get(cls.method)
    # Same module and name means a module reload, which is harmless.
    if existing is not None and _name(existing) != _name(cls):
        raise ValueError(f"method {cls.method!r} is already registered by {_name(existing)}")
    _REGISTRY[cls.method] = cls
    return cls


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def methods() -> list[str]:
    """Names of all registered explainer methods, sorted."""
    return sorted(_REGISTRY)


def create(method: str, /, *args: Any, **kwargs: Any) -> Explainer:
    """Build the explainer registered as `method` with the given model and settings."""
    try:
        cls = _REGISTRY[method]
    except KeyError:
        raise UnknownMethod(f"no explainer registered as {method!r}; known: {methods()}") from None
    return cls(*args, **kwargs)
