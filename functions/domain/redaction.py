"""Redact personal data from free text before a model sees it and before it is stored.

Kinds, applied in this order so that one kind never half-eats another:

1. e-mail addresses -> ``[EMAIL]``
2. IBANs (country code, check digits, BBAN; compact or in groups of four; mod-97
   valid only) -> ``[IBAN]``
3. payment card numbers (13-19 digits, optional single spaces or dashes between
   digits, Luhn-valid only) -> ``[CARD]``
4. phone numbers (+CC / 00CC international forms; US "(415) 555-0132",
   "415-555-0132", "4155550132"; Spanish "612 345 678", "612345678") -> ``[PHONE]``

Deliberate choices:

- A 13-19 digit number that fails Luhn is left alone: it cannot be a card number,
  and such numbers are usually order or tracking references. The phone rules only
  take it if it really has a phone shape (it almost never does: E.164 caps at 15).
- A number right after ``#`` is a reference ("order #612345678"), not a phone.
- Amounts, dates and short numbers ("€120.50", "12/03/2026", "48213") never match.
- The placeholders contain no digits or ``@``, so ``redact`` is idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

EMAIL, IBAN, CARD, PHONE = "EMAIL", "IBAN", "CARD", "PHONE"

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"  # local part (RFC 5322 atext and dots)
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
# Compact, or in groups of four separated by single spaces (the printed form).
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_CARD = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_NOT_AFTER = r"(?<![\w#+€$£])(?<![0-9][ .-])"  # not a reference number, not the tail of a longer number
_NOT_BEFORE = r"(?![0-9])(?![.,-][0-9])(?!\s?(?:€|\$|%|EUR|USD))"  # not part of a longer number or an amount
_PHONE = re.compile(
    _NOT_AFTER
    + r"(?:"
    + r"(?:\+|\b00)[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,5}\)?){2,6}"  # international: +34 612 345 678, +1 (415) 555-0132
    + r"|(?:1[ .-])?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"  # US with separators
    + r"|[2-9][0-9]{2}[2-9][0-9]{6}"  # US, compact (NANP: area and exchange do not start with 0 or 1)
    + r"|[6-9][0-9]{2}(?:[ .-]?[0-9]{3}[ .-]?[0-9]{3}|[ .-][0-9]{2}[ .-][0-9]{2}[ .-][0-9]{2})"  # Spain
    + r")"
    + _NOT_BEFORE
)


@dataclass(frozen=True)
class Redacted:
    text: str
    counts: dict[str, int]


def luhn_valid(digits: str) -> bool:
    """True when a string of digits passes the Luhn checksum used by payment cards."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when `candidate` (separators allowed) has an IBAN's shape and passes ISO 13616 mod-97."""
    compact = re.sub(r"[ -]", "", candidate).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _longest_valid_prefix(valid: Callable[[str], bool]) -> Callable[[str], int | None]:
    """Try the whole match, then shorter prefixes ending at a separator (the match may run into a following word)."""

    def length(match: str) -> int | None:
        for end in range(len(match), 0, -1):
            at_boundary = end == len(match) or (match[end - 1].isalnum() and not match[end].isalnum())
            if at_boundary and valid(match[:end]):
                return end
        return None

    return length


def _card_length(match: str) -> int | None:
    def valid(prefix: str) -> bool:
        digits = re.sub(r"[ -]", "", prefix)
        return 13 <= len(digits) <= 19 and luhn_valid(digits)

    return _longest_valid_prefix(valid)(match)


def _phone_length(match: str) -> int | None:
    # E.164 numbers have at most 15 digits; a longer international match ran into other digits.
    return _longest_valid_prefix(lambda prefix: 7 <= sum(c.isdigit() for c in prefix) <= 15)(match)


def _replace(pattern: re.Pattern[str], text: str, token: str, length: Callable[[str], int | None]) -> tuple[str, int]:
    """Replace the valid part of each match; after an invalid match, search again one character later.

    Replacing in place (rather than collecting pieces) lets look-behinds see earlier
    placeholders, as a second run would: that keeps `redact` idempotent.
    """
    count, pos, placeholder = 0, 0, f"[{token}]"
    while (match := pattern.search(text, pos)) is not None:
        n = length(match.group())
        if n is None:
            pos = match.start() + 1
            continue
        text = text[: match.start()] + placeholder + text[match.start() + n :]
        count += 1
        pos = match.start() + len(placeholder)
    return text, count


_PASSES: list[tuple[str, re.Pattern[str], Callable[[str], int | None]]] = [
    (EMAIL, _EMAIL, len),
    (IBAN, _IBAN, _longest_valid_prefix(iban_valid)),
    (CARD, _CARD, _card_length),
    (PHONE, _PHONE, _phone_length),
]


def redact(text: str) -> Redacted:
    """Replace e-mails, IBANs, card numbers and phone numbers with placeholders; count each kind."""
    counts: dict[str, int] = {}
    for token, pattern, length in _PASSES:
        text, counts[token] = _replace(pattern, text, token, length)
    return Redacted(text=text, counts=counts)
