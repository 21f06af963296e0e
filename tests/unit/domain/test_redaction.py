import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from functions.domain.redaction import iban_valid, luhn_valid, redact

VALID_CARDS = ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5500 0000 0000 0004",
               "3782 822463 10005", "6011000990139424", "4222222222222"]  # fmt: skip
VALID_IBANS = ["ES91 2100 0418 4502 0005 1332", "ES9121000418450200051332", "DE89 3704 0044 0532 0130 00",
               "GB82 WEST 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606", "NO9386011117947",
               "es91 2100 0418 4502 0005 1332"]  # fmt: skip
PHONES = ["+34 612 345 678", "+34612345678", "0034 612 345 678", "612345678", "612 345 678", "612 34 56 78",
          "912-345-678", "(415) 555-0132", "415-555-0132", "415.555.0132", "415 555 0132", "4155550132",
          "+1 (415) 555-0132", "+1 415 555 0132", "1-800-555-0199", "+44 20 7946 0958"]  # fmt: skip


def only(kind: str, n: int = 1) -> dict[str, int]:
    return {"EMAIL": 0, "IBAN": 0, "CARD": 0, "PHONE": 0} | {kind: n}


# --- e-mail ---


@pytest.mark.parametrize(
    "email", ["ana@example.com", "ana.garcia+shop@correo.example.es", "J.O'Neil@sub.mail.example.co.uk", "x_1@a-b.io"]
)
def test_emails_are_redacted(email):
    result = redact(f"Write to {email}, please.")
    assert result.text == "Write to [EMAIL], please."
    assert result.counts == only("EMAIL")


@pytest.mark.parametrize("text", ["user@localhost", "price @ 5 euros", "@handle", "a@b", "meet me @home."])
def test_non_emails_are_kept(text):
    assert redact(text).text == text


# --- cards ---


@pytest.mark.parametrize("card", VALID_CARDS)
def test_luhn_valid_cards_are_redacted(card):
    result = redact(f"My card is {card} thanks")
    assert result.text == "My card is [CARD] thanks"
    assert result.counts == only("CARD")


@pytest.mark.parametrize("number", ["4111 1111 1111 1112", "4111111111111112", "1234-5678-9012-3456"])
def test_luhn_invalid_numbers_are_kept(number):
    # Decision: a number failing Luhn cannot be a card; such numbers are usually references,
    # and none of these has a phone's shape, so they are left as they are.
    assert not luhn_valid(number.replace(" ", "").replace("-", ""))
    assert redact(f"ref {number}").text == f"ref {number}"


def test_card_followed_by_more_digits_is_cut_at_the_card():
    assert redact("card 4111-1111-1111-1111 2026").text == "card [CARD] 2026"


def test_long_digit_runs_are_not_partially_redacted_as_cards():
    text = "tracking 41111111111111110000000"
    assert redact(text).text == text


# --- IBAN ---


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_mod97_valid_ibans_are_redacted(iban):
    assert iban_valid(iban)
    result = redact(f"IBAN: {iban}. Gracias")
    assert result.text == "IBAN: [IBAN]. Gracias"
    assert result.counts == only("IBAN")


def test_iban_followed_by_a_capitalised_word_is_cut_at_the_iban():
    assert redact("ES91 2100 0418 4502 0005 1332 OK").text == "[IBAN] OK"
    assert redact("AB12 ES91 2100 0418 4502 0005 1332").text == "AB12 [IBAN]"


@pytest.mark.parametrize(
    "iban", ["ES91 2100 0418 4502 0005 1333", "DE89370400440532013001", "GB82 WEST 1234 5698 7654 33"]
)
def test_mod97_invalid_ibans_are_not_redacted_as_iban(iban):
    assert not iban_valid(iban)
    result = redact(f"IBAN {iban}")
    assert "[IBAN]" not in result.text
    assert result.counts["IBAN"] == 0


# --- phones ---


@pytest.mark.parametrize("phone", PHONES)
def test_phones_are_redacted(phone):
    result = redact(f"Call me on {phone} tomorrow")
    assert result.text == "Call me on [PHONE] tomorrow"
    assert result.counts == only("PHONE")


@pytest.mark.parametrize(
    "text",
    ["order #48213", "order #612345678", "€120.50", "120,50 €", "$1,299.99", "12/03/2026", "2026-03-12", "10:30",
     "5 items", "postcode 28013", "ZIP 94103", "612.345.678 €", "€612.345.678", "año 2026", "ticket 123456789",
     "v1.2.3", "3 x 4 = 12", "1234"],
)  # fmt: skip
def test_non_personal_numbers_are_kept(text):
    result = redact(text)
    assert result.text == text
    assert sum(result.counts.values()) == 0


# --- mixed text ---


def test_spanish_message_with_several_items():
    text = (
        "Hola, me cobraron dos veces 120,50 € (pedido #48213 del 12/03/2026). Mi tarjeta es 4111 1111 1111 1111 "
        "y mi cuenta ES91 2100 0418 4502 0005 1332. Llámenme al 612 34 56 78 o escriban a ana.garcia@correo.es."
    )
    result = redact(text)
    assert result.text == (
        "Hola, me cobraron dos veces 120,50 € (pedido #48213 del 12/03/2026). Mi tarjeta es [CARD] "
        "y mi cuenta [IBAN]. Llámenme al [PHONE] o escriban a [EMAIL]."
    )
    assert result.counts == {"EMAIL": 1, "IBAN": 1, "CARD": 1, "PHONE": 1}


def test_several_items_of_one_kind_are_counted():
    result = redact("a@x.com, b@y.org; 612 345 678 612 345 679 and +34 699 111 222")
    assert result.text == "[EMAIL], [EMAIL]; [PHONE] [PHONE] and [PHONE]"
    assert result.counts == {"EMAIL": 2, "IBAN": 0, "CARD": 0, "PHONE": 3}


def test_email_with_digits_is_an_email_not_a_phone():
    assert redact("612345678@example.com").text == "[EMAIL]"


def test_empty_text():
    assert redact("").text == ""


# --- properties ---

SAMPLES = [
    "Mi tarjeta 4111 1111 1111 1111, IBAN ES91 2100 0418 4502 0005 1332, +34 612 345 678, ana@correo.es",
    "612 345 678 612 345 678 612 345 678",
    "4111 1111 1111 1111 612 345 678",
]


@given(st.text(alphabet="0123456789 -+().#@€/:abcESXYZ_", max_size=80))
@example(SAMPLES[0])
@example(SAMPLES[1])
@example(SAMPLES[2])
def test_redaction_is_idempotent(text):
    once = redact(text).text
    assert redact(once).text == once


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


@st.composite
def cards(draw):
    body = draw(st.text(alphabet="0123456789", min_size=12, max_size=18))
    digits = luhn_complete(body)
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@st.composite
def ibans(draw):
    country = draw(st.sampled_from(["ES", "DE", "FR", "GB", "IT", "NL", "PT", "BE", "NO", "MT"]))
    bban = draw(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=11, max_size=30))
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    compact = f"{country}{98 - numeric % 97:02d}{bban}"
    if draw(st.booleans()):
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


filler = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40)


@given(before=filler, after=filler, item=st.one_of(st.emails(), cards(), ibans()))
def test_generated_personal_data_never_survives(before, after, item):
    text = f"{before} {item} {after}"
    result = redact(text)
    assert item not in result.text
    assert sum(result.counts.values()) >= 1
