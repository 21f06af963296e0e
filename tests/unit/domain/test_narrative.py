import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.narrative import Reason, summarize, top_reasons

# --- examples ---


def test_routing_example_en():
    reasons = [Reason('"charged"', None, 1.7, True), Reason('"twice"', None, 0.9, True)]
    summary = summarize(kind="routing", locale="en", target="Billing", outcome="Billing", reasons=reasons)
    assert summary.text == "We routed your message to Billing mainly because it mentions “charged” and “twice”."
    assert (summary.locale, summary.fallback) == ("en", False)


def test_routing_example_es():
    reasons = [Reason("cobraron", None, 1.7, True), Reason("dos veces", None, 0.9, True)]
    summary = summarize(kind="routing", locale="es-ES", target="Facturación", outcome="Facturación", reasons=reasons)
    assert (
        summary.text == "Hemos dirigido su mensaje a Facturación sobre todo porque menciona «cobraron» y «dos veces»."
    )
    assert (summary.locale, summary.fallback) == ("es", False)


def test_routing_against_reasons_are_concessive():
    reasons = [Reason("charged", None, 1.7, True), Reason("refund", None, -0.8, True)]
    en = summarize(kind="routing", locale="en", target="Billing", outcome="Billing", reasons=reasons).text
    es = summarize(kind="routing", locale="es", target="Facturación", outcome="Facturación", reasons=reasons).text
    assert en == (
        "We routed your message to Billing mainly because it mentions “charged”, "
        "even though it also mentions “refund”, which pointed away from it."
    )
    assert es == (
        "Hemos dirigido su mensaje a Facturación sobre todo porque menciona «charged», "
        "aunque también menciona «refund», que apuntaba en otra dirección."
    )


def test_decision_example():
    reasons = [
        Reason("the number of refunds in the last 12 months", "4", -1.2),
        Reason("the order value", "€35.00", 0.4),
        Reason("customer since", "2019", 0.1),
        Reason("delivery delay", "0 days", -0.05),
    ]
    summary = summarize(
        kind="decision",
        locale="en",
        target="Refund approved",
        outcome="Refund not approved",
        reasons=reasons,
        adverse=True,
    )
    assert summary.text == (
        "The decision on your request: Refund not approved. What weighed most for or against “Refund approved”: "
        "the number of refunds in the last 12 months (4) made it less likely; the order value (€35.00) made it more "
        "likely; customer since (2019) made it more likely. "
        "If you disagree, you can ask for a person to review this decision."
    )


def test_decision_example_es():
    reasons = [Reason("reembolsos en los últimos 12 meses", "4", -1.2), Reason("importe del pedido", "35,00 €", 0.4)]
    summary = summarize(
        kind="decision", locale="es_MX", target="Reembolso aprobado", outcome="Reembolso no aprobado", reasons=reasons
    )
    assert summary.text == (
        "La decisión sobre su solicitud: Reembolso no aprobado. Lo que más pesó a favor o en contra de "
        "«Reembolso aprobado»: reembolsos en los últimos 12 meses (4), en contra; "
        "importe del pedido (35,00 €), a favor. "
        "Si no está de acuerdo, puede pedir que una persona revise esta decisión."
    )


def test_favourable_decision_has_no_review_prompt_unless_flagged():
    reasons = [Reason("order value", "€35", 0.4)]
    common = {"kind": "decision", "locale": "en", "target": "Refund approved", "reasons": reasons}
    assert "review" not in summarize(**common, outcome="Refund approved").text
    assert "review" in summarize(**common, outcome="Refund approved", adverse=True).text
    assert "review" not in summarize(**common, outcome="Refund not approved", adverse=False).text


@pytest.mark.parametrize("reasons", [[], [Reason("x", None, 0.0, True)], [Reason("y", "1", float("nan"))]])
@pytest.mark.parametrize(("locale", "phrase"), [("en", "No single factor stood out"), ("es", "Ningún factor concreto")])
@pytest.mark.parametrize("kind", ["routing", "decision"])
def test_no_reasons_is_said_honestly(reasons, locale, phrase, kind):
    text = summarize(kind=kind, locale=locale, target="Billing", outcome="Billing", reasons=reasons).text
    assert phrase in text
    assert "because" not in text
    assert "porque" not in text


@pytest.mark.parametrize("locale", ["pt-BR", "zz", "", "fr"])
def test_unsupported_locale_falls_back_to_english(locale):
    summary = summarize(
        kind="routing", locale=locale, target="Billing", outcome="Billing", reasons=[Reason("x", None, 1, True)]
    )
    assert (summary.locale, summary.fallback) == ("en", True)
    assert summary.text.startswith("We routed your message")


def test_routing_to_another_target_uses_sign_true_list():
    reasons = [Reason("refund", None, -0.6, True), Reason("charged", None, 0.3, True)]
    text = summarize(kind="routing", locale="en", target="Billing", outcome="Account", reasons=reasons).text
    assert text == (
        "We routed your message to Account. What weighed most for or against “Billing”: "
        "the mention of “refund” made it less likely; the mention of “charged” made it more likely."
    )


def test_raw_feature_names_never_appear():
    display = {
        "refunds_12m": "Refunds in the last 12 months",
        "order_value_eur": "Order value",
        "tenure_days": "Tenure",
    }
    reasons = [
        Reason(name, "3", attribution) for name, attribution in zip(display.values(), (-1.0, 0.5, 0.2), strict=True)
    ]
    for locale in ("en", "es"):
        for kind in ("routing", "decision"):
            text = summarize(kind=kind, locale=locale, target="Approved", outcome="Approved", reasons=reasons).text
            assert not any(raw in text for raw in display), text
            assert all(name in text for name in display.values())


def test_top_reasons_orders_by_magnitude_and_drops_zero():
    reasons = [Reason("a", None, 0.1), Reason("b", None, -2.0), Reason("c", None, 0.0), Reason("d", None, 1.0)]
    assert [r.display_name for r in top_reasons(reasons, 2)] == ["b", "d"]
    assert [r.display_name for r in top_reasons(reasons, 10)] == ["b", "d", "a"]
    assert top_reasons(reasons, 0) == []


# --- sign-truthfulness, systematically ---

attributions = st.floats(min_value=-10, max_value=10, allow_nan=False).filter(lambda a: abs(a) > 1e-6)


@st.composite
def reason_lists(draw):
    values = draw(st.lists(attributions, min_size=1, max_size=8, unique_by=abs))
    tokens = draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    # names that are never substrings of each other: "factor 1x" vs "factor 10x"
    return [
        Reason(f"word{i}x" if tok else f"factor {i}x", None if tok or i % 2 else f"{i} units", a, tok)
        for i, (a, tok) in enumerate(zip(values, tokens, strict=True))
    ]


def mentioned(text, reasons):
    return [r for r in reasons if re.search(rf"\b{re.escape(r.display_name)}(?!\w)", text)]


CONCESSIVE = {"en": (", even though", ", despite"), "es": (", aunque", ", a pesar de")}
SIGN_WORDS = {"en": ("made it more likely", "made it less likely"), "es": (", a favor", ", en contra")}


@given(reasons=reason_lists(), top_k=st.integers(min_value=1, max_value=5), language=st.sampled_from(["en", "es"]))
def test_routing_puts_each_reason_on_the_side_of_its_sign(reasons, top_k, language):
    text = summarize(
        kind="routing", locale=language, target="Billing", outcome="Billing", reasons=reasons, top_k=top_k
    ).text
    expected = top_reasons(reasons, top_k)
    assert set(map(id, mentioned(text, reasons))) == set(map(id, expected))
    cut = min((i for m in CONCESSIVE[language] if (i := text.find(m)) >= 0), default=len(text))
    supporting, opposing = text[:cut], text[cut:]
    for reason in expected:
        side = supporting if reason.attribution > 0 else opposing
        other = opposing if reason.attribution > 0 else supporting
        assert mentioned(side, [reason]), (reason, text)
        assert not mentioned(other, [reason]), (reason, text)
    if not any(r.attribution > 0 for r in expected):
        assert "because" not in text
        assert "porque" not in text
        assert " por " not in text


@given(reasons=reason_lists(), top_k=st.integers(min_value=1, max_value=5), language=st.sampled_from(["en", "es"]))
def test_decision_gives_each_reason_the_direction_of_its_sign(reasons, top_k, language):
    text = summarize(
        kind="decision", locale=language, target="Approved", outcome="Declined", reasons=reasons, top_k=top_k
    ).text
    expected = top_reasons(reasons, top_k)
    assert set(map(id, mentioned(text, reasons))) == set(map(id, expected))
    listing = text.split(": ", 2)[2]  # after "The decision ...: X. What weighed most ...:"
    clauses = re.split(r"; |\. ", listing)
    more, less = SIGN_WORDS[language]
    for reason in expected:
        (clause,) = [c for c in clauses if mentioned(c, [reason])]
        assert (more in clause) == (reason.attribution > 0), (reason, clause)
        assert (less in clause) == (reason.attribution < 0), (reason, clause)
    assert "because" not in text
    assert "porque" not in text
