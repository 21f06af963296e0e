"""The shared tokenizer: normalised tokens whose offsets point into the original message."""

from __future__ import annotations

import numpy as np
import pytest

from explainers.text import TOKENIZER_SPEC, BagOfWords, Token, fold, tokenize


def spans(text: str) -> list[str]:
    return [text[t.start : t.end] for t in tokenize(text)]


def test_lowercases_and_folds_accents_but_offsets_keep_the_original() -> None:
    text = "¿Dónde está mi FACTURACIÓN?"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["donde", "esta", "mi", "facturacion"]
    assert spans(text) == ["Dónde", "está", "mi", "FACTURACIÓN"]


def test_spanish_enye_folds_to_n_with_exact_offsets() -> None:
    text = "Año nuevo, señor Muñoz"
    assert tokenize(text) == [
        Token("ano", 0, 3),
        Token("nuevo", 4, 9),
        Token("senor", 11, 16),
        Token("munoz", 17, 22),
    ]


def test_decomposed_accents_stay_inside_the_token() -> None:
    text = "facturacio\u0301n ok"  # 'ó' written as 'o' + combining acute
    tokens = tokenize(text)
    assert tokens[0] == Token("facturacion", 0, 12)
    assert text[tokens[0].start : tokens[0].end] == "facturacio\u0301n"


def test_punctuation_underscores_and_short_tokens_are_separators() -> None:
    text = "I was charged twice!!! (order #48213) a_b x, e-mail: 49,99€"
    assert [t.text for t in tokenize(text)] == ["was", "charged", "twice", "order", "48213", "mail", "49", "99"]
    assert spans(text)[:5] == ["was", "charged", "twice", "order", "48213"]


def test_redaction_placeholders_give_their_word() -> None:
    text = "Mi correo es [EMAIL] y mi teléfono [PHONE]."
    tokens = tokenize(text)
    assert Token("email", 14, 19) in tokens
    assert Token("phone", 36, 41) in tokens
    assert text[14:19] == "EMAIL"


def test_non_latin_letters_and_digits_are_word_characters() -> None:
    assert [t.text for t in tokenize("Привет мир 123 東京")] == ["привет", "мир", "123", "東京"]


def test_empty_and_blank_text() -> None:
    assert tokenize("") == []
    assert tokenize("  ¿? ... !") == []


def test_fold() -> None:
    assert fold("Facturación Ñandú") == "facturacion nandu"


def test_spec_matches_rules() -> None:
    assert TOKENIZER_SPEC == {"lowercase": True, "fold_accents": True, "min_token_length": 2}


def test_bag_of_words_counts_and_occurrences() -> None:
    bow = BagOfWords(["cobraron", "dos", "factura", "veces"])
    text = "Me cobraron DOS veces, sí, dos veces"
    counts, where = bow.vectorize(text)
    assert counts.dtype == np.float64
    assert counts.tolist() == [1.0, 2.0, 0.0, 2.0]
    assert set(where) == {0, 1, 3}
    assert [text[t.start : t.end] for t in where[1]] == ["DOS", "dos"]
    assert [t.start for t in where[3]] == [16, 31]


def test_bag_of_words_ignores_unknown_words_and_handles_empty_text() -> None:
    bow = BagOfWords(["refund"])
    counts, where = bow.vectorize("")
    assert counts.tolist() == [0.0]
    assert where == {}
    assert bow.transform(["refund refund", "nothing"]).tolist() == [[2.0], [0.0]]
    assert bow.transform([]).shape == (0, 1)


def test_bag_of_words_rejects_duplicate_vocabulary() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        BagOfWords(["a1", "a1"])
