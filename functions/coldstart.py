"""What a Lambda container builds once, at cold start, and keeps: settings, clients, stores.

`per_container` is `functools.cache` that also remembers the function, so that tests can
start a fresh "container" (`forget_everything()`) without listing every cache by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_CACHES: list[Any] = []


def per_container(function: F) -> F:
    cached = functools.cache(function)
    _CACHES.append(cached)
    return cached  # type: ignore[return-value]


def forget_everything() -> None:
    for cached in _CACHES:
        cached.cache_clear()
