"""Plain-language summaries of an explanation, in the customer's language.

Attributions are in the units of the explained output: positive pushed toward
`target` (routing: the chosen queue; decision: the favourable outcome), negative
pushed away from it. Every phrase used for a reason is chosen by its sign, so the
text never says "because of" something that argued against the outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from functions.domain.disclosure import resolve_language

SUPPORTED_LANGUAGES = frozenset({"en", "es"})
_QUOTES = "\"'“”«»\u2018\u2019"  # straight, curly and angle quotes


@dataclass(frozen=True)
class Reason:
    """One contribution, as the customer should read it (display names only, never raw feature names)."""

    display_name: str
    display_value: str | None
    attribution: float
    is_token: bool = False


@dataclass(frozen=True)
class Summary:
    text: str
    locale: str
    fallback: bool


def _join(items: list[str], conjunction: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _quote(word: str, language: str) -> str:
    word = word.strip().strip(_QUOTES)
    return f"«{word}»" if language == "es" else f"“{word}”"


def _feature(reason: Reason) -> str:
    return f"{reason.display_name} ({reason.display_value})" if reason.display_value else reason.display_name


def _subject(reason: Reason, language: str) -> str:
    """A noun phrase for one reason, e.g. 'the mention of “refund”' or 'Order value (€35)'."""
    if reason.is_token:
        return f"{'la mención de' if language == 'es' else 'the mention of'} {_quote(reason.display_name, language)}"
    return _feature(reason)


def top_reasons(reasons: list[Reason], top_k: int) -> list[Reason]:
    """The `top_k` reasons with the largest |attribution|; zero and non-finite ones are dropped."""
    usable = [r for r in reasons if math.isfinite(r.attribution) and r.attribution != 0]
    return sorted(usable, key=lambda r: abs(r.attribution), reverse=True)[: max(top_k, 0)]


# --- routing: "We routed your message to X mainly because ..., even though ..." ---


def _routing_en(target: str, pros: list[Reason], cons: list[Reason]) -> str:
    text = f"We routed your message to {target}"
    pro_parts: list[str] = []
    if words := [_quote(r.display_name, "en") for r in pros if r.is_token]:
        pro_parts.append(f"it mentions {_join(words, 'and')}")
    if features := [_feature(r) for r in pros if not r.is_token]:
        pro_parts.append(f"of {_join(features, 'and')}")
    if pro_parts:
        text += " mainly because " + " and because ".join(pro_parts)
    con_parts: list[str] = []
    if words := [_quote(r.display_name, "en") for r in cons if r.is_token]:
        con_parts.append(f"even though it {'also ' if pros else ''}mentions {_join(words, 'and')}")
    if features := [_feature(r) for r in cons if not r.is_token]:
        con_parts.append(f"despite {_join(features, 'and')}")
    if con_parts:
        text += ", " + " and ".join(con_parts) + ", which pointed away from it"
    return text + "."


def _routing_es(target: str, pros: list[Reason], cons: list[Reason]) -> str:
    text = f"Hemos dirigido su mensaje a {target}"
    pro_parts: list[str] = []
    if words := [_quote(r.display_name, "es") for r in pros if r.is_token]:
        pro_parts.append(f"porque menciona {_join(words, 'y')}")
    if features := [_feature(r) for r in pros if not r.is_token]:
        pro_parts.append(f"por {_join(features, 'y')}")
    if pro_parts:
        text += " sobre todo " + " y ".join(pro_parts)
    con_parts: list[str] = []
    if words := [_quote(r.display_name, "es") for r in cons if r.is_token]:
        con_parts.append(f"aunque {'también ' if pros else ''}menciona {_join(words, 'y')}")
    if features := [_feature(r) for r in cons if not r.is_token]:
        con_parts.append(f"a pesar de {_join(features, 'y')}")
    if con_parts:
        verb = "apuntaba" if len(cons) == 1 else "apuntaban"
        text += ", " + " y ".join(con_parts) + f", que {verb} en otra dirección"
    return text + "."


# --- decisions (and any other target): one sign-true clause per reason ---


def _weighed_en(target: str, chosen: list[Reason]) -> str:
    clauses = [f"{_subject(r, 'en')} made it {'more' if r.attribution > 0 else 'less'} likely" for r in chosen]
    return f"What weighed most for or against “{target}”: {'; '.join(clauses)}."


def _weighed_es(target: str, chosen: list[Reason]) -> str:
    # "a favor"/"en contra" avoid verb agreement with display names of any number or gender.
    clauses = [f"{_subject(r, 'es')}, {'a favor' if r.attribution > 0 else 'en contra'}" for r in chosen]
    return f"Lo que más pesó a favor o en contra de «{target}»: {'; '.join(clauses)}."


_ROUTING: dict[str, Callable[[str, list[Reason], list[Reason]], str]] = {"en": _routing_en, "es": _routing_es}
_WEIGHED: dict[str, Callable[[str, list[Reason]], str]] = {"en": _weighed_en, "es": _weighed_es}
_PHRASES = {
    "en": {
        "routed": "We routed your message to {outcome}.",
        "decided": "The decision on your request: {outcome}.",
        "nothing": "No single factor stood out as the reason.",
        "review": "If you disagree, you can ask for a person to review this decision.",
        "pending": "The reasons for it are still being worked out; they will appear on your explanation page shortly.",
        "not_explained": "It was not explained individually; you can ask a person to explain or review it.",
        "words": "The words of your message that weighed most for and against it are listed below.",
    },
    "es": {
        "routed": "Hemos dirigido su mensaje a {outcome}.",
        "decided": "La decisión sobre su solicitud: {outcome}.",
        "nothing": "Ningún factor concreto destacó como motivo.",
        "review": "Si no está de acuerdo, puede pedir que una persona revise esta decisión.",
        "pending": "Sus motivos aún se están calculando; aparecerán en breve en su página de explicación.",
        "not_explained": "No se explicó de forma individual; puede pedir que una persona se la explique o la revise.",
        "words": "Abajo figuran las palabras de su mensaje que más pesaron a favor y en contra.",
    },
}


def summarize(
    *,
    kind: Literal["routing", "decision"],
    locale: str,
    target: str,
    outcome: str,
    reasons: list[Reason],
    adverse: bool | None = None,
    top_k: int = 3,
) -> Summary:
    """Explain an outcome in plain language from its `top_k` largest reasons.

    `target` and `outcome` are display names in the requested language. For routing,
    `target` is normally the chosen queue (= `outcome`); for decisions it is the
    favourable label. `adverse` (decisions; inferred as `outcome != target` when None)
    adds a pointer to human review. Unsupported locales give English, flagged `fallback`.
    """
    resolved = resolve_language(locale, SUPPORTED_LANGUAGES)
    lang = resolved.language
    phrases = _PHRASES[lang]
    chosen = top_reasons(reasons, top_k)
    pros = [r for r in chosen if r.attribution > 0]
    cons = [r for r in chosen if r.attribution < 0]

    sentences: list[str] = []
    if kind == "routing" and target == outcome and chosen:
        sentences.append(_ROUTING[lang](target, pros, cons))
    else:
        sentences.append(phrases["routed" if kind == "routing" else "decided"].format(outcome=outcome))
        sentences.append(_WEIGHED[lang](target, chosen) if chosen else phrases["nothing"])
    if kind == "decision" and (adverse if adverse is not None else outcome != target):
        sentences.append(phrases["review"])
    return Summary(text=" ".join(sentences), locale=lang, fallback=resolved.fallback)


def unexplained_summary(
    *,
    status: Literal["pending", "not_explained"],
    kind: Literal["routing", "decision"],
    locale: str,
    outcome: str,
    adverse: bool | None,
) -> Summary:
    """What the customer reads while an explanation is pending, or when the policy left it out."""
    resolved = resolve_language(locale, SUPPORTED_LANGUAGES)
    phrases = _PHRASES[resolved.language]
    sentences = [phrases["routed" if kind == "routing" else "decided"].format(outcome=outcome), phrases[status]]
    if kind == "decision" and adverse and status == "pending":
        sentences.append(phrases["review"])
    return Summary(text=" ".join(sentences), locale=resolved.language, fallback=resolved.fallback)


def message_words_summary(
    *, kind: Literal["routing", "decision"], locale: str, outcome: str, adverse: bool | None
) -> Summary:
    """A summary that points at the message's words without quoting them (what records keep)."""
    resolved = resolve_language(locale, SUPPORTED_LANGUAGES)
    phrases = _PHRASES[resolved.language]
    sentences = [phrases["routed" if kind == "routing" else "decided"].format(outcome=outcome), phrases["words"]]
    if kind == "decision" and adverse:
        sentences.append(phrases["review"])
    return Summary(text=" ".join(sentences), locale=resolved.language, fallback=resolved.fallback)
