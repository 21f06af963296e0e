import json
from datetime import date
from pathlib import Path

import pytest

from functions.domain.disclosure import (
    PLACEHOLDERS,
    CatalogueError,
    NoticeCatalogue,
    OperatorProfile,
    OperatorTexts,
    resolve_language,
)
from functions.schemas.api import Notice

BUNDLED = Path(__file__).parents[3] / "functions" / "notices" / "catalogue.json"
TEXT_FIELDS = ("notice", "short_notice", "purpose", "human_contact", "data_use", "retention", "rights", "caveat")


@pytest.fixture(scope="module")
def catalogue() -> NoticeCatalogue:
    return NoticeCatalogue.load()


@pytest.fixture
def operator() -> OperatorProfile:
    return OperatorProfile(
        name="Acme Retail S.L.",
        ai_system_name="Ana",
        human_contact="type 'agent' or call 900 123 456.",
        policy_url="https://acme.example/privacy",
        retention_months=6,
        retention_months_consequential=36,
        privacy_contact="privacy@acme.example",
    )


def raw() -> dict:
    return json.loads(BUNDLED.read_text(encoding="utf-8"))


# --- the bundled catalogue ---


def test_bundled_catalogue_is_read_once(catalogue):
    assert NoticeCatalogue.load() is catalogue


def test_versions_cover_every_jurisdiction_and_language(catalogue):
    ids = catalogue.versions()
    for jurisdiction in ("default", "eu", "us-ca"):
        for language in ("en", "es"):
            assert any(i.startswith(f"{jurisdiction}-{language}-") for i in ids), (jurisdiction, language)


@pytest.mark.parametrize("jurisdiction", ["default", "EU", "US-CA"])
@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("kind", ["routing", "decision", None])
def test_every_notice_is_complete_and_filled(catalogue, operator, jurisdiction, locale, kind):
    notice = catalogue.notice(locale=locale, jurisdiction=jurisdiction, operator=operator, kind=kind)
    assert notice.ai_system is True
    assert notice.jurisdiction == jurisdiction
    assert notice.locale == locale
    assert notice.fallback is False
    assert notice.notice_id == f"{jurisdiction.lower()}-{locale}-2026-11"
    assert notice.effective_from == "2026-11-01"
    texts = [getattr(notice, f) for f in TEXT_FIELDS] + [notice.decision_kind or ""]
    for text in texts:
        assert "$" not in text
        assert "{" not in text
        assert ".." not in text  # "Acme Retail S.L." never ends a sentence, and contacts lose their own full stop
    assert all(getattr(notice, f).strip() for f in TEXT_FIELDS)
    assert "Ana" in notice.notice
    assert "Acme Retail S.L." in notice.notice
    assert notice.operator == "Acme Retail S.L."
    assert notice.ai_system_name == "Ana"
    assert notice.policy_url == "https://acme.example/privacy"
    assert "https://acme.example/privacy" in notice.data_use
    assert "900 123 456" in notice.human_contact
    assert "privacy@acme.example" in notice.rights
    assert ("6 meses" if locale == "es" else "6 months") in notice.retention
    assert ("3 años" if locale == "es" else "3 years") in notice.retention
    assert (notice.decision_kind is None) == (kind is None)


def test_notice_says_it_is_ai_not_a_person(catalogue, operator):
    for jurisdiction in ("default", "EU", "US-CA"):
        en = catalogue.notice(locale="en", jurisdiction=jurisdiction, operator=operator).notice
        es = catalogue.notice(locale="es", jurisdiction=jurisdiction, operator=operator).notice
        assert "AI" in en
        assert "not to a person" in en or "not a human" in en
        assert "inteligencia artificial" in es
        assert "no con una persona" in es or "no una persona" in es


def test_california_notice_is_an_explicit_bot_disclosure(catalogue, operator):
    notice = catalogue.notice(locale="en-US", jurisdiction="US-CA", operator=operator)
    assert notice.notice.startswith("You are chatting with a bot.")
    assert "not a human" in notice.notice
    assert "Bot" in (notice.short_notice or "")
    assert "California residents" in notice.rights


def test_eu_notice_carries_gdpr_and_ai_act_content(catalogue, operator):
    notice = catalogue.notice(locale="en", jurisdiction="EU", operator=operator, kind="decision")
    assert "artificial intelligence" in notice.notice
    assert "responsible for this service and for your personal data" in notice.purpose
    assert "legal basis" in notice.data_use
    for right in ("explanation", "correct", "erase", "express your point of view", "contest", "review by a person"):
        assert right in notice.rights
    assert "data protection authority" in notice.rights
    assert "right to have a person review" in (notice.decision_kind or "")


def test_routing_and_decision_are_phrased_differently(catalogue, operator):
    routing = catalogue.notice(locale="es", jurisdiction="EU", operator=operator, kind="routing").decision_kind
    decision = catalogue.notice(locale="es", jurisdiction="EU", operator=operator, kind="decision").decision_kind
    assert routing
    assert "qué equipo" in routing
    assert decision
    assert "decisión automatizada" in decision


def test_spanish_uses_usted(catalogue, operator):
    for jurisdiction in ("default", "EU", "US-CA"):
        notice = catalogue.notice(locale="es", jurisdiction=jurisdiction, operator=operator, kind="decision")
        text = " ".join([getattr(notice, f) for f in TEXT_FIELDS] + [notice.decision_kind or ""]).lower()
        for informal in (" tú ", " tu ", " te ", "puedes", "estás", "quieres", "tienes", "escríbenos"):
            assert informal not in f" {text} ", informal
        assert "usted" in text


def test_model_is_passed_through(catalogue, operator):
    model = {"id": "refund-decision", "version": "1.0.0"}
    notice = catalogue.notice(locale="en", jurisdiction="EU", operator=operator, model=model, kind="decision")
    assert notice.model == model
    assert catalogue.notice(locale="en", jurisdiction="EU", operator=operator).model is None


def test_notice_round_trips_as_json(catalogue, operator):
    notice = catalogue.notice(locale="es-ES", jurisdiction="EU", operator=operator, kind="routing")
    assert Notice.model_validate_json(notice.model_dump_json()) == notice


# --- locale and jurisdiction resolution ---


@pytest.mark.parametrize(
    ("requested", "language"),
    [("es-ES", "es"), ("es_MX", "es"), ("ES", "es"), ("es", "es"), ("es-419", "es"), (" es-ES ", "es"),
     ("en-GB", "en"), ("EN", "en"), ("en", "en")],
)  # fmt: skip
def test_supported_locales_resolve_to_their_language(catalogue, operator, requested, language):
    notice = catalogue.notice(locale=requested, jurisdiction="EU", operator=operator)
    assert (notice.locale, notice.fallback, notice.requested_locale) == (language, False, requested)
    assert notice.notice_id.startswith(f"eu-{language}-")


@pytest.mark.parametrize(
    "requested", ["pt-BR", "zz", "", "   ", "es-", "e", "123", "es--ES", "español", "*", "x" * 500]
)
def test_unsupported_or_malformed_locales_fall_back_to_english(catalogue, operator, requested):
    notice = catalogue.notice(locale=requested, jurisdiction="EU", operator=operator)
    assert (notice.locale, notice.fallback) == ("en", True)
    assert notice.requested_locale == requested[:64]
    assert notice.notice_id == "eu-en-2026-11"


def test_resolve_language_never_raises_on_none():
    assert resolve_language(None, {"en", "es"}).fallback is True  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("requested", "applied"),
    [("EU", "EU"), ("eu", "EU"), ("Eu", "EU"), ("US-CA", "US-CA"), ("us-ca", "US-CA"), ("US_CA", "US-CA"),
     ("ES", "EU"), ("de", "EU"), ("default", "default"), ("DEFAULT", "default"), ("US-NY", "default"),
     ("", "default"), ("narnia", "default")],
)  # fmt: skip
def test_jurisdiction_is_case_insensitive_and_unknown_means_default(catalogue, operator, requested, applied):
    notice = catalogue.notice(locale="en", jurisdiction=requested, operator=operator)
    assert notice.jurisdiction == applied
    assert notice.notice_id.startswith(f"{applied.lower()}-en-")


# --- operator profile ---


@pytest.mark.parametrize(("months", "en", "es"), [(1, "1 month", "1 mes"), (18, "18 months", "18 meses"),
                                                  (12, "1 year", "1 año"), (72, "6 years", "6 años")])  # fmt: skip
def test_retention_period_is_phrased_per_language(catalogue, operator, months, en, es):
    op = operator.model_copy(update={"retention_months": months})
    assert f"for {en}," in catalogue.notice(locale="en", jurisdiction="default", operator=op).retention
    assert f"durante {es}," in catalogue.notice(locale="es", jurisdiction="default", operator=op).retention


def test_retention_defaults_match_the_record_retention_classes(catalogue):
    op = OperatorProfile(name="A", ai_system_name="B", human_contact="C", policy_url="https://x.example")
    retention = catalogue.notice(locale="en", jurisdiction="EU", operator=op).retention
    assert "for 6 months, and for 3 years when it is an automated decision" in retention


def test_privacy_contact_defaults_to_human_contact(catalogue, operator):
    op = operator.model_copy(update={"privacy_contact": None})
    assert "900 123 456" in catalogue.notice(locale="en", jurisdiction="EU", operator=op).rights


def test_operator_values_are_not_treated_as_templates(catalogue, operator):
    op = operator.model_copy(update={"name": "Dollar $operator ${ai_system} Inc."})
    assert "Dollar $operator ${ai_system} Inc." in catalogue.notice(locale="en", jurisdiction="EU", operator=op).notice


def test_operator_texts_are_shown_in_the_notices_language(catalogue, operator):
    spanish = OperatorTexts(ai_system_name="Ana (asistente)", human_contact="escriba «agente» o llame al 900 123 456")
    op = operator.model_copy(update={"languages": {"es": spanish}})
    es = catalogue.notice(locale="es-MX", jurisdiction="EU", operator=op)
    assert "escriba «agente» o llame al 900 123 456." in es.human_contact
    assert es.ai_system_name == "Ana (asistente)"
    assert es.operator == "Acme Retail S.L."  # not overridden: the profile's own
    assert "type 'agent'" not in es.model_dump_json()
    for locale in ("en", "fr-FR"):  # English, and the English fallback, keep the profile's own texts
        en = catalogue.notice(locale=locale, jurisdiction="EU", operator=op)
        assert "type 'agent' or call 900 123 456." in en.human_contact
        assert en.ai_system_name == "Ana"


def test_a_language_without_its_own_contact_keeps_the_privacy_contact_in_step(catalogue, operator):
    op = operator.model_copy(
        update={"privacy_contact": None, "languages": {"es": OperatorTexts(human_contact="llame al 900 000 111")}}
    )
    assert "llame al 900 000 111" in catalogue.notice(locale="es", jurisdiction="EU", operator=op).rights


def test_per_language_operator_texts_are_validated():
    with pytest.raises(ValueError, match="validation error"):
        OperatorTexts(policy_url="ftp://x")
    with pytest.raises(ValueError, match="validation error"):
        OperatorTexts(human_contact="")


@pytest.mark.parametrize(
    "bad", [{"policy_url": "not a url"}, {"retention_months": 0}, {"name": ""}, {"unexpected": "x"}]
)
def test_operator_profile_is_validated(bad):
    fields = {
        "name": "A",
        "ai_system_name": "B",
        "human_contact": "C",
        "policy_url": "https://x.example",
        "retention_months": 6,
    }
    with pytest.raises(ValueError, match="validation error"):
        OperatorProfile(**(fields | bad))


# --- a bad catalogue fails at load with a clear message ---


def load_modified(tmp_path: Path, change) -> NoticeCatalogue:
    data = raw()
    change(data)
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return NoticeCatalogue.load(path)


def test_bundled_file_loads_from_a_path(tmp_path):
    assert load_modified(tmp_path, lambda d: None).versions() == NoticeCatalogue.load().versions()


def test_missing_field_is_named(tmp_path):
    def drop(d):
        del d["entries"][3]["texts"]["caveat"]

    with pytest.raises(CatalogueError, match=r"caveat"):
        load_modified(tmp_path, drop)


def test_unknown_placeholder_is_named(tmp_path):
    def typo(d):
        d["entries"][2]["texts"]["rights"] += " ${privacy_contacts}"

    with pytest.raises(CatalogueError, match=r"eu-en-2026-11\.rights: unknown placeholder.*privacy_contacts"):
        load_modified(tmp_path, typo)


def test_malformed_placeholder_is_rejected(tmp_path):
    def lone_dollar(d):
        d["entries"][0]["texts"]["caveat"] = "Costs $ 5"

    with pytest.raises(CatalogueError, match=r"default-en-2026-11\.caveat: malformed placeholder"):
        load_modified(tmp_path, lone_dollar)


def test_every_problem_is_listed_at_once(tmp_path):
    def two_problems(d):
        d["entries"][0]["texts"]["notice"] = "${who}"
        d["entries"][1]["texts"]["notice"] = "${whom}"

    with pytest.raises(CatalogueError) as info:
        load_modified(tmp_path, two_problems)
    assert "who" in str(info.value)
    assert "whom" in str(info.value)


def test_missing_language_for_a_jurisdiction_is_rejected(tmp_path):
    def drop_us_es(d):
        d["entries"] = [e for e in d["entries"] if e["notice_id"] != "us-ca-es-2026-11"]

    with pytest.raises(CatalogueError, match=r"no 'es' notice for jurisdiction 'US-CA'"):
        load_modified(tmp_path, drop_us_es)


def test_catalogue_without_default_is_rejected(tmp_path):
    def drop_default(d):
        d["entries"] = [e for e in d["entries"] if e["jurisdiction"] != "default"]

    with pytest.raises(CatalogueError, match=r"'default' jurisdiction"):
        load_modified(tmp_path, drop_default)


def test_notice_id_must_match_its_entry(tmp_path):
    def wrong_id(d):
        d["entries"][0]["notice_id"] = "default-en-2026-10"

    with pytest.raises(CatalogueError, match=r"should be 'default-en-2026-11'"):
        load_modified(tmp_path, wrong_id)


def test_empty_text_and_unknown_keys_are_rejected(tmp_path):
    def empty(d):
        d["entries"][0]["texts"]["purpose"] = ""

    def extra(d):
        d["entries"][0]["texts"]["slogan"] = "hi"

    for change in (empty, extra):
        with pytest.raises(CatalogueError):
            load_modified(tmp_path, change)


def test_non_json_is_a_catalogue_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"broken\.json"):
        NoticeCatalogue.load(path)


# --- versions over time ---


def test_the_version_in_force_is_chosen_by_date(tmp_path, operator):
    def add_older_version(d):
        for entry in list(d["entries"]):
            older = json.loads(json.dumps(entry))
            older["effective_from"] = "2026-08-02"
            older["notice_id"] = older["notice_id"].replace("2026-11", "2026-08")
            older["texts"]["caveat"] = "Old caveat."
            d["entries"].append(older)

    catalogue = load_modified(tmp_path, add_older_version)
    assert "eu-es-2026-08" in catalogue.versions()
    at = {"locale": "es", "jurisdiction": "EU", "operator": operator}
    assert catalogue.notice(**at, at=date(2026, 9, 1)).notice_id == "eu-es-2026-08"
    assert catalogue.notice(**at, at=date(2026, 9, 1)).caveat == "Old caveat."
    assert catalogue.notice(**at, at=date(2026, 11, 1)).notice_id == "eu-es-2026-11"
    assert catalogue.notice(**at, at=date(2030, 1, 1)).notice_id == "eu-es-2026-11"
    # before any version is in force, the earliest one is shown rather than none
    assert catalogue.notice(**at, at=date(2020, 1, 1)).notice_id == "eu-es-2026-08"


def test_placeholder_set_is_fixed():
    fixed = {"operator", "ai_system", "human_contact", "privacy_contact", "policy_url", "retention"}
    assert fixed | {"retention_consequential"} == PLACEHOLDERS
