"""The seeded synthetic data behind the bundled models."""

from __future__ import annotations

from collections import Counter

import pytest

from infra.training import synthetic


@pytest.fixture(scope="module")
def messages() -> list[tuple[str, str, str]]:
    return synthetic.ticket_messages(3000, seed=3)


@pytest.fixture(scope="module")
def requests() -> list[dict]:
    return synthetic.refund_requests(8000, seed=5)


# ---- ticket messages -------------------------------------------------------------


def test_messages_are_a_function_of_the_seed() -> None:
    assert synthetic.ticket_messages(200, seed=1) == synthetic.ticket_messages(200, seed=1)
    assert synthetic.ticket_messages(200, seed=1) != synthetic.ticket_messages(200, seed=2)
    # A longer run starts with the shorter one.
    assert synthetic.ticket_messages(300, seed=1)[:200] == synthetic.ticket_messages(200, seed=1)


def test_messages_cover_both_languages_about_evenly(messages: list[tuple[str, str, str]]) -> None:
    languages = Counter(lang for _, _, lang in messages)
    assert set(languages) == {"en", "es"}
    assert 0.4 < languages["en"] / len(messages) < 0.6


def test_messages_cover_every_queue_in_both_languages(messages: list[tuple[str, str, str]]) -> None:
    seen = {(queue, lang) for _, queue, lang in messages}
    assert seen == {(q, lang) for q in synthetic.QUEUES for lang in synthetic.LANGUAGES}
    assert {"billing", "technical_support", "shipping", "account", "cancellation"} <= set(synthetic.QUEUES)


def test_messages_look_like_real_traffic(messages: list[tuple[str, str, str]]) -> None:
    texts = [text for text, _, _ in messages]
    assert all(text.strip() for text in texts)
    assert len(set(texts)) > 0.9 * len(texts)
    for placeholder in ("[EMAIL]", "[PHONE]", "[NAME]"):
        assert any(placeholder in text.upper() for text in texts), placeholder
    assert any("order #" in text.lower() for text in texts)
    assert any("pedido" in text.lower() for text in texts)
    assert any(text == "Me cobraron dos veces este mes." for text in texts)
    assert max(len(text) for text in texts) < 2000


def test_empty_and_invalid_sizes() -> None:
    assert synthetic.ticket_messages(0, seed=1) == []
    assert synthetic.refund_requests(0, seed=1) == []
    with pytest.raises(ValueError, match="non-negative"):
        synthetic.ticket_messages(-1, seed=1)
    with pytest.raises(ValueError, match="non-negative"):
        synthetic.refund_requests(-1, seed=1)


# ---- refund requests -------------------------------------------------------------


def test_requests_are_a_function_of_the_seed() -> None:
    assert synthetic.refund_requests(100, seed=1) == synthetic.refund_requests(100, seed=1)
    assert synthetic.refund_requests(100, seed=1) != synthetic.refund_requests(100, seed=2)


def test_requests_have_exactly_the_twelve_features_within_range(requests: list[dict]) -> None:
    names = list(synthetic.REFUND_FEATURES)
    assert len(names) == 12
    for request in requests:
        assert set(request) == {"inputs", "segments", "label"}
        assert list(request["inputs"]) == names
        assert request["label"] in ("approve", "deny")
        assert request["segments"]["age_band"] in synthetic.AGE_BANDS
        assert request["segments"]["gender"] in synthetic.GENDERS
        for name, spec in synthetic.REFUND_FEATURES.items():
            value = request["inputs"][name]
            if spec["type"] == "category":
                assert value in spec["categories"], name
            elif spec["type"] == "boolean":
                assert isinstance(value, bool), name
            else:
                expected = int if spec["type"] == "integer" else float
                assert type(value) is expected, name
                assert spec["minimum"] <= value <= spec["maximum"], (name, value)


def test_segments_are_not_model_inputs(requests: list[dict]) -> None:
    assert not set(requests[0]["segments"]) & set(synthetic.REFUND_FEATURES)


def test_every_category_occurs(requests: list[dict]) -> None:
    for name, spec in synthetic.REFUND_FEATURES.items():
        if spec["type"] == "category":
            assert {r["inputs"][name] for r in requests} == set(spec["categories"]), name


def _approval(requests: list[dict], **where: str) -> float:
    chosen = [r for r in requests if all(r["segments"].get(k, r["inputs"].get(k)) == v for k, v in where.items())]
    return sum(r["label"] == "approve" for r in chosen) / len(chosen)


def test_overall_approval_rate_is_plausible(requests: list[dict]) -> None:
    assert 0.5 < _approval(requests) < 0.72


def test_business_rule_shows_in_the_labels(requests: list[dict]) -> None:
    assert _approval(requests, delivery_status="lost") > 0.85
    assert _approval(requests, delivery_status="damaged") > 0.8
    assert _approval(requests, return_reason="changed_mind") < _approval(requests, return_reason="wrong_item")
    late = [r for r in requests if r["inputs"]["days_since_delivery"] > 90]
    assert sum(r["label"] == "approve" for r in late) / len(late) < 0.2


def test_planted_proxy_bias_against_65_plus_is_in_the_labels(requests: list[dict]) -> None:
    rates = {band: _approval(requests, age_band=band) for band in synthetic.AGE_BANDS}
    assert rates["65+"] / max(rates.values()) < 0.8
    # ... carried by channel and payment method, which 65+ customers use far more.
    assert _approval(requests, channel="phone") < _approval(requests, channel="web") - 0.2
    assert _approval(requests, payment_method="cash_on_delivery") < _approval(requests, payment_method="card") - 0.2
    old = [r for r in requests if r["segments"]["age_band"] == "65+"]
    young = [r for r in requests if r["segments"]["age_band"] == "18-34"]
    share = lambda rows, k, v: sum(r["inputs"][k] == v for r in rows) / len(rows)  # noqa: E731
    assert share(old, "channel", "phone") > 3 * share(young, "channel", "phone")
    assert share(old, "payment_method", "cash_on_delivery") > 3 * share(young, "payment_method", "cash_on_delivery")


def test_gender_carries_no_bias(requests: list[dict]) -> None:
    assert abs(_approval(requests, gender="female") - _approval(requests, gender="male")) < 0.05
