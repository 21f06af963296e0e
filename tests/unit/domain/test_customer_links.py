"""Customer link tokens: bound to one decision, expiring, unforgeable; every failure looks the same."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.customer_links import sign_token, verify_token

KEY = b"k" * 32
NOW = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)
DECISION = "01JF0000000000000000000000"


def token(decision_id: str = DECISION, expires: datetime = NOW + timedelta(days=90), key: bytes = KEY) -> str:
    return sign_token(decision_id, expires, key)


def test_a_fresh_token_for_its_decision_verifies():
    assert verify_token(token(), DECISION, KEY, NOW)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "garbage",
        "a.b.c",
        "!!!.???",
        "a" * 300,
        token(expires=NOW - timedelta(seconds=1)),
        token(expires=NOW),
        token(decision_id="01JF0000000000000000000001"),
        token(key=b"x" * 32),
    ],
)
def test_bad_tokens_are_refused(bad):
    assert not verify_token(bad, DECISION, KEY, NOW)


def test_a_token_does_not_open_another_decision_even_with_a_shared_prefix():
    assert not verify_token(token(decision_id=DECISION + "X"), DECISION, KEY, NOW)
    assert not verify_token(token(), DECISION + "X", KEY, NOW)


def test_altering_the_expiry_breaks_the_signature():
    _, mac = token().split(".")
    later = base64.urlsafe_b64encode(f"{DECISION}.9999999999".encode()).rstrip(b"=").decode()
    assert not verify_token(f"{later}.{mac}", DECISION, KEY, NOW)


@given(st.text(max_size=200))
def test_no_input_raises(text):
    assert verify_token(text, DECISION, KEY, NOW) is False
    assert verify_token(token(), text, KEY, NOW) is (text == DECISION)
