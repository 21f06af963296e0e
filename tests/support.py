"""Test helpers shared by the tiers."""

from __future__ import annotations

from functions.coldstart import forget_everything


def fresh_container() -> None:
    """Forget everything built at cold start, as a new Lambda container would.

    Settings, AWS clients, the model registry and the stores are cached per process (see
    `functions.coldstart`); tests that point the functions at a new (moto) account drop them.
    Modules not imported yet have nothing cached, so nothing needs importing here.
    """
    forget_everything()
