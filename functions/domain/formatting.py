"""Numbers, money, units and dates as a customer reads them: CLDR's rules, through Babel.

Only human-readable text is formatted here. Machine fields (JSON numbers, ISO timestamps in API
bodies, a `<time datetime>` attribute) stay as they are, so no client ever parses "1.234,50".

The locale is the decision's own tag, not only its language: es-ES writes "1.234,50 €" and
es-MX "EUR 1,234.50". A tag Babel does not know (es-FR) gets its language's formats, and a
language Candor does not write in (fr-FR) gets English ones, like the text around them: the
digits never speak another language than the sentence they are in.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import NumberPattern, format_currency, format_decimal, is_currency, parse_pattern
from babel.units import format_unit

from functions.domain.disclosure import resolve_language

SUPPORTED_LANGUAGES = ("en", "es")

# Units a manifest may name (in English) that CLDR has words and plural forms for in every language.
_CLDR_UNITS = {
    **dict.fromkeys(("second", "seconds", "s"), "duration-second"),
    **dict.fromkeys(("minute", "minutes", "min"), "duration-minute"),
    **dict.fromkeys(("hour", "hours", "h"), "duration-hour"),
    **dict.fromkeys(("day", "days"), "duration-day"),
    **dict.fromkeys(("week", "weeks"), "duration-week"),
    **dict.fromkeys(("month", "months"), "duration-month"),
    **dict.fromkeys(("year", "years"), "duration-year"),
    **dict.fromkeys(("kg", "kilogram", "kilograms"), "mass-kilogram"),
    **dict.fromkeys(("km", "kilometer", "kilometers", "kilometre", "kilometres"), "length-kilometer"),
}
# An ISO 4217 code, upper case as manifests write them ("EUR"); lower-case words such as "cup" stay words.
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
# CLDR's currencySpacing, which Babel does not apply: a symbol made of letters gets a no-break space
# next to the digits ("EUR 240.00", not "EUR240.00"); "€" and "$" do not.
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
NBSP = "\u00a0"
MINUS = "\u2212"


@lru_cache(maxsize=256)  # bounded: tags come from requests; a decision asks this for every value it shows
def language_of(locale: str | None) -> str:
    """`es-ES`, `es_MX`, `ES` -> `es`; anything unsupported -> `en` (the notice's own rule)."""
    return resolve_language(locale, SUPPORTED_LANGUAGES).language


@lru_cache(maxsize=64)  # bounded: tags come from requests
def babel_locale(locale: str | None) -> Locale:
    """The CLDR locale of a decision's tag, always in the language its text is written in."""
    language = language_of(locale)
    try:
        parsed = Locale.parse((locale or "").strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(language)
    return parsed if parsed.language == language else Locale.parse(language)


def locale_tag(locale: str | None) -> str:
    """The BCP 47 tag whose formats are used for `locale` (`es-MX`; `en` for `fr-FR`)."""
    parsed = babel_locale(locale)
    return "-".join(part for part in (parsed.language, parsed.script, parsed.territory) if part)


def _pattern_text(decimals: int) -> str:
    # The locale supplies the separators; the pattern fixes the precision the manifest's type implies.
    return "#,##0" + ("." + "0" * decimals if decimals else "")


@lru_cache(maxsize=16)
def _pattern(decimals: int, signed: bool = False) -> NumberPattern:
    """The pattern parsed once: Babel would parse the string again for every value (a decision shows many)."""
    text = _pattern_text(decimals)
    return parse_pattern(f"+{text};-{text}" if signed else text)


def number(value: float, locale: str | None, *, decimals: int = 0) -> str:
    """`1234.5` -> `1,234.50` (en), `1.234,50` (es-ES), `1,234.50` (es-MX)."""
    return format_decimal(value, format=_pattern(decimals), locale=babel_locale(locale))


def signed(value: float, locale: str | None, *, decimals: int = 3) -> str:
    """Always with a sign, and a real minus sign (U+2212) for negatives: `+0,070` (es)."""
    shown = format_decimal(value, format=_pattern(decimals, signed=True), locale=babel_locale(locale))
    return shown.replace("-", MINUS)


def money(value: float, currency: str, locale: str | None) -> str:
    """`240, "EUR"` -> `€240.00` (en), `240,00 €` (es-ES, with a no-break space), `EUR 240.00` (es-MX)."""
    return _LETTER_DIGIT.sub(NBSP, format_currency(value, currency, locale=babel_locale(locale)))


@lru_cache(maxsize=64)  # Babel lists every currency it knows on each call; units come from manifests
def _is_currency(code: str) -> bool:
    return is_currency(code)


def quantity(value: float, unit: str | None, locale: str | None, *, decimals: int = 0) -> str:
    """A value with a manifest's unit: a currency code as money, a known unit in words, any other as given."""
    if not unit:
        return number(value, locale, decimals=decimals)
    if _CURRENCY_CODE.match(unit) and _is_currency(unit):
        return money(value, unit, locale)
    cldr_unit = _CLDR_UNITS.get(unit.lower())
    if cldr_unit is None:
        return f"{number(value, locale, decimals=decimals)} {unit}"
    # A Decimal with the shown precision picks the plural the reader sees: "1 day" but "1.00 days".
    shown = round(Decimal(str(value)), decimals)
    return format_unit(shown, cldr_unit, format=_pattern_text(decimals), locale=babel_locale(locale))


def long_date(day: date, locale: str | None) -> str:
    """`5 de noviembre de 2026` (es), `November 5, 2026` (en), `5 November 2026` (en-GB)."""
    return format_date(day, format="long", locale=babel_locale(locale))


def parse_timestamp(iso: str) -> datetime:
    """An ISO 8601 timestamp as stored (`2026-11-05T14:03:00.000Z`); one without an offset is UTC."""
    moment = datetime.fromisoformat(iso)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def timestamp(iso: str, locale: str | None) -> str:
    """A stored UTC time as a customer reads it: `5 de noviembre de 2026, 14:03 UTC` (es).

    Records are kept in UTC and the customer's time zone is unknown, so UTC is named rather
    than hidden. Date and time are joined with the locale's own pattern.
    """
    moment, parsed = parse_timestamp(iso), babel_locale(locale)
    shown_date = format_date(moment.date(), format="long", locale=parsed)
    shown_time = format_time(moment, format="short", tzinfo=UTC, locale=parsed)
    joined = str(get_datetime_format("medium", locale=parsed)).replace("{1}", shown_date).replace("{0}", shown_time)
    return f"{joined} UTC"
