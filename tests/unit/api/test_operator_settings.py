"""The operator's texts per language: CANDOR_<NAME> for every language, CANDOR_<NAME>_<LANG> for one."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from functions.api.customer_page import LABELS, render_forbidden
from functions.api.dependencies import operator_profile
from functions.domain import narrative
from functions.domain.disclosure import NoticeCatalogue
from functions.domain.formatting import SUPPORTED_LANGUAGES
from functions.schemas.settings import LANGUAGES, OPERATOR_TEXTS, CatalogSettings, CustomerSettings

SPANISH_DEFAULT_CONTACT = "Escriba «agente» en el chat o llame al +34 900 000 000 (lun-vie 9-18 CET)"
ENGLISH_DEFAULT_CONTACT = "Write 'agent' in the chat or call +34 900 000 000 (Mon-Fri 9-18 CET)"


@pytest.fixture(autouse=True)
def _no_operator_variables(monkeypatch):
    for variable in list(os.environ):
        if any(variable.upper().startswith(f"CANDOR_{name.upper()}") for name in OPERATOR_TEXTS):
            monkeypatch.delenv(variable)


def test_the_defaults_come_in_english_and_spanish():
    settings = CatalogSettings()
    assert settings.operator_text("human_contact", "en") == ENGLISH_DEFAULT_CONTACT
    assert settings.operator_text("human_contact", "es") == SPANISH_DEFAULT_CONTACT
    assert settings.human_contact == ENGLISH_DEFAULT_CONTACT  # the field itself is unchanged
    assert settings.operator_text("operator_name", "es") == "Example Retail S.L."  # a name reads the same


def test_one_variable_still_sets_every_language(monkeypatch):
    monkeypatch.setenv("CANDOR_HUMAN_CONTACT", "call 900 111 222")
    settings = CatalogSettings()
    assert settings.operator_text("human_contact", "en") == "call 900 111 222"
    assert settings.operator_text("human_contact", "es") == "call 900 111 222"


def test_a_language_suffix_overrides_that_language_only(monkeypatch):
    monkeypatch.setenv("CANDOR_HUMAN_CONTACT", "call 900 111 222")
    monkeypatch.setenv("CANDOR_HUMAN_CONTACT_ES", "llame al 900 111 222")
    monkeypatch.setenv("candor_ai_system_name_es", "Ana, la asistente")  # case-insensitive, like every setting
    monkeypatch.setenv("CANDOR_POLICY_URL_EN", "https://example.com/en/privacy")
    settings = CustomerSettings(
        records_table="t", archive_bucket="a", personal_bucket="p", kms_key_id="k", subject_key="s", appeals_table="x"
    )  # every function's settings read them
    assert settings.operator_text("human_contact", "es") == "llame al 900 111 222"
    assert settings.operator_text("human_contact", "en") == "call 900 111 222"
    assert settings.operator_text("ai_system_name", "es") == "Ana, la asistente"
    assert settings.operator_text("policy_url", "en") == "https://example.com/en/privacy"
    assert settings.operator_text("policy_url", "es") == "https://example.com/privacy/ai"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CANDOR_HUMAN_CONTACT_FR",
            "appelez le 900",
            "CANDOR_HUMAN_CONTACT_FR: no texts in 'fr'; the languages are en, es",
        ),
        ("CANDOR_HUMAN_CONTACT_ES", "  ", "CANDOR_HUMAN_CONTACT_ES is empty"),
        ("CANDOR_POLICY_URL_ES", "example.com/privacidad", "CANDOR_POLICY_URL_ES must be an http"),
    ],
)
def test_a_bad_per_language_variable_fails_the_cold_start_naming_it(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message):
        CatalogSettings()


def test_the_notice_speaks_the_readers_language():
    profile = operator_profile(CatalogSettings())
    catalogue = NoticeCatalogue.load()
    es = catalogue.notice(locale="es-ES", jurisdiction="EU", operator=profile, kind="decision")
    en = catalogue.notice(locale="en-GB", jurisdiction="EU", operator=profile, kind="decision")
    assert "Escriba «agente» en el chat" in es.human_contact
    assert "Write 'agent'" not in es.model_dump_json()
    assert es.ai_system_name == "Asistente de soporte con Candor"
    assert "Write 'agent' in the chat" in en.human_contact
    assert en.ai_system_name == "Candor-assisted support assistant"


def test_every_language_of_the_settings_has_notices_texts_and_formats():
    assert set(LANGUAGES) == NoticeCatalogue.load().languages
    assert set(LANGUAGES) == set(SUPPORTED_LANGUAGES) == set(narrative.SUPPORTED_LANGUAGES) == set(LABELS)
    assert set(operator_profile(CatalogSettings()).languages) == set(LANGUAGES) - {"en"}


def test_the_forbidden_page_has_each_languages_contact(monkeypatch):
    monkeypatch.setenv("CANDOR_HUMAN_CONTACT_ES", "llame al 900 111 222.")
    spanish = render_forbidden(CatalogSettings()).split('<section lang="es"')[1]
    assert "contacte con una persona: llame al 900 111 222.</p>" in spanish
