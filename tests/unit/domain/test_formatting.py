"""Locale-aware numbers, money, units and dates (Babel, CLDR data).

Babel's Spanish puts a no-break space (U+00A0) before "€", and its English times a narrow
no-break space (U+202F) before "PM": the expected strings spell them out as escapes.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.formatting import (
    babel_locale,
    language_of,
    locale_tag,
    long_date,
    money,
    number,
    quantity,
    signed,
    timestamp,
)
from functions.domain.presentation import display_value
from functions.schemas.manifest import Feature

NBSP, NNBSP, MINUS = "\u00a0", "\u202f", "\u2212"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("es-ES", f"240,00{NBSP}€"),
        ("es", f"240,00{NBSP}€"),
        ("en", "€240.00"),
        ("en-GB", "€240.00"),
        ("es-MX", f"EUR{NBSP}240.00"),  # CLDR's spacing next to a code, which Babel leaves out
        ("fr-FR", "€240.00"),  # a language Candor does not write in: English, like the text
    ],
)
def test_money_in_the_customers_locale(locale, expected):
    assert money(240, "EUR", locale) == expected


def test_thousands_and_decimals_in_spanish_and_english():
    assert number(1234.5, "es-ES", decimals=1) == "1.234,5"
    assert number(1234.5, "es-ES", decimals=2) == "1.234,50"
    assert number(1234567, "es") == "1.234.567"
    assert number(1234.5, "en", decimals=1) == "1,234.5"
    assert number(1234.5, "es-MX", decimals=2) == "1,234.50"
    assert money(1234.5, "EUR", "es-ES") == f"1.234,50{NBSP}€"


def test_weights_have_a_sign_and_a_real_minus():
    assert signed(0.07, "es-ES") == "+0,070"
    assert signed(-1.5, "es-ES") == f"{MINUS}1,500"
    assert signed(-0.07, "en") == f"{MINUS}0.070"


def test_units_are_words_in_the_customers_language_with_plurals():
    assert quantity(41, "days", "es-ES") == "41 días"
    assert quantity(1, "days", "es-ES") == "1 día"
    assert quantity(1, "days", "en") == "1 day"
    assert quantity(1200, "days", "es-ES") == "1.200 días"
    assert quantity(3, "months", "es") == "3 meses"
    assert quantity(2.5, "kg", "es", decimals=2) == "2,50 kilogramos"
    # Unknown units are shown as given, the number still in the locale's format.
    assert quantity(1234, "parcels", "es") == "1.234 parcels"
    assert quantity(3, None, "es", decimals=2) == "3,00"
    # Only upper-case ISO codes are money: "cup" is a word, not the Cuban peso.
    assert quantity(2, "cup", "es") == "2 cup"


def test_dates_use_the_locales_month_names():
    day = date(2026, 11, 5)
    assert long_date(day, "es-ES") == "5 de noviembre de 2026"
    assert long_date(day, "en") == "November 5, 2026"
    assert long_date(day, "en-GB") == "5 November 2026"
    assert timestamp("2026-11-05T14:03:00.000Z", "es-ES") == "5 de noviembre de 2026, 14:03 UTC"
    assert timestamp("2026-11-05T14:03:00.000Z", "es-MX") == f"5 de noviembre de 2026, 2:03{NNBSP}p.m. UTC"
    assert timestamp("2026-11-05T14:03:00.000Z", "en") == f"November 5, 2026, 2:03{NNBSP}PM UTC"
    assert timestamp("2026-11-05T15:03:00+01:00", "es") == "5 de noviembre de 2026, 14:03 UTC"


@pytest.mark.parametrize(
    ("requested", "tag"),
    [
        ("es-ES", "es-ES"),
        ("es_MX", "es-MX"),
        ("ES", "es"),
        ("es-FR", "es"),  # no such CLDR locale: the language's formats
        ("es-419", "es-419"),
        ("en-GB", "en-GB"),
        ("fr-FR", "en"),  # unsupported language: English text, English formats
        ("", "en"),
        ("not a locale", "en"),
    ],
)
def test_the_formats_locale_of_a_requested_tag(requested, tag):
    assert locale_tag(requested) == tag
    assert babel_locale(requested).language == language_of(requested)


@given(st.text(max_size=40))
def test_any_requested_tag_gets_formats_in_its_texts_language(requested):
    assert babel_locale(requested).language == language_of(requested)


def _feature(**fields) -> Feature:
    return Feature.model_validate({"name": "x", "display_names": {"en": "X", "es": "X"}} | fields)


def test_display_values_are_localized_by_type_and_unit():
    order_value = _feature(type="number", unit="EUR")
    assert display_value(order_value, 240.0, "es-ES") == f"240,00{NBSP}€"
    assert display_value(order_value, 240.0, "en") == "€240.00"
    days = _feature(type="integer", unit="days")
    assert display_value(days, 41, "es-ES") == "41 días"
    assert display_value(days, 41, "en-US") == "41 days"
    count = _feature(type="integer")
    assert display_value(count, 1234, "es") == "1.234"
    assert display_value(count, 1234, "en") == "1,234"
    assert display_value(_feature(type="number"), 0.07, "es") == "0,07"
    assert display_value(_feature(type="boolean"), True, "es-MX") == "sí"
