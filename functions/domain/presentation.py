"""How inputs are shown to people: display names and values in their language."""

from __future__ import annotations

from functions.domain.formatting import language_of, quantity
from functions.domain.ports import ExplainedItem
from functions.schemas.api import FeatureValue
from functions.schemas.manifest import Feature, ModelManifest

_YES_NO = {"en": ("yes", "no"), "es": ("sí", "no")}
_QUOTES = {"en": ("\u201c", "\u201d"), "es": ("\u00ab", "\u00bb")}


SPAN_KEY_PREFIX = "span:"


def span_key(start: int, end: int) -> str:
    """A word of a free-text message named by where it sits, not by what it says.

    Records are kept for years and the archive cannot forget; a word of a customer's
    message can be a name. Keyed by position, the word itself stays in the (erasable)
    personal part, which still shows it while it exists.
    """
    return f"{SPAN_KEY_PREFIX}{start}-{end}"


def span_of(key: str) -> tuple[int, int] | None:
    """(start, end) of a `span_key`, None for any other key."""
    if not key.startswith(SPAN_KEY_PREFIX):
        return None
    start, _, end = key.removeprefix(SPAN_KEY_PREFIX).partition("-")
    return int(start), int(end)


def localized(names: dict[str, str], language: str) -> str:
    return names.get(language) or names["en"]


def display_value(feature: Feature, value: FeatureValue, locale: str) -> str:
    """A value as the customer reads it: words in their language, numbers in their locale's formats.

    `locale` is the decision's tag (`es-MX`), or just a language (`es`) for that language's formats.
    """
    language = language_of(locale)
    if feature.type == "boolean":
        yes, no = _YES_NO[language]
        return yes if value else no
    if feature.type == "category":
        names = (feature.category_display_names or {}).get(str(value))
        return localized(names, language) if names else str(value)
    if feature.type in ("number", "integer") and isinstance(value, int | float):
        return quantity(value, feature.unit, locale, decimals=2 if feature.type == "number" else 0)
    return str(value)


def item_display(manifest: ModelManifest, item: ExplainedItem, text: str, locale: str) -> tuple[str, str | None]:
    """(display name, display value) of an attributed item; tokens show the customer's own word."""
    language = language_of(locale)
    if item.spans:
        start, end = item.spans[0]
        opening, closing = _QUOTES[language]
        return f"{opening}{text[start:end]}{closing}", None
    feature = next(f for f in manifest.features if f.name == item.key)
    return localized(feature.display_names, language), display_value(feature, item.value, locale)
