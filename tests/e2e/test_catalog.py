import pytest

pytestmark = pytest.mark.e2e


def test_health_needs_no_token(api):
    response = api.call("GET", "/v1/health", role=None)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("role", ["chatbot", "auditor", "privacy"])
def test_models_lists_both_bundled_models_for_any_role(api, role):
    response = api.call("GET", "/v1/models", role=role)
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["models"]}
    assert set(models) == {
        "refund-decision",
        "refund-decision-xgboost",
        "refund-decision-catboost",
        "ticket-router",
        "refund-remote",
        "refund-deferred",
        "router-remote",
        "refund-decision-v2",
        "refund-sklearn",
        "refund-sklearn-linear",
        "refund-onnx",
        "refund-onnx-mlp",
    }
    assert models["ticket-router"]["kind"] == "routing"
    assert models["ticket-router"]["explanation_method"] == "linear_shap"
    assert models["refund-decision"]["favourable_outcome"] == "approve"
    assert len(models["refund-decision"]["features"]) >= 10
    assert all({"en", "es"} <= set(f["display_names"]) for f in models["refund-decision"]["features"])


def test_models_without_a_token_is_401(api):
    response = api.call("GET", "/v1/models", role=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("params", "notice_id", "locale", "fallback"),
    [
        ({"locale": "es-ES", "jurisdiction": "EU"}, "eu-es-2026-11", "es", False),
        ({"locale": "en-US", "jurisdiction": "US-CA"}, "us-ca-en-2026-11", "en", False),
        ({"locale": "pt-BR", "jurisdiction": "EU"}, "eu-en-2026-11", "en", True),
        ({}, "default-en-2026-11", "en", False),
        ({"locale": "es", "jurisdiction": "atlantis"}, "default-es-2026-11", "es", False),
    ],
)
def test_disclosure_for_first_contact(api, params, notice_id, locale, fallback):
    response = api.call("GET", "/v1/disclosure", params=params)
    assert response.status_code == 200
    notice = response.json()
    assert notice["ai_system"] is True
    assert (notice["notice_id"], notice["locale"], notice["fallback"]) == (notice_id, locale, fallback)
    for field in (
        "notice",
        "operator",
        "purpose",
        "human_contact",
        "data_use",
        "retention",
        "policy_url",
        "rights",
        "caveat",
    ):
        assert notice[field], field


def test_disclosure_is_for_chatbots(api):
    assert api.call("GET", "/v1/disclosure", role="auditor").status_code == 403
