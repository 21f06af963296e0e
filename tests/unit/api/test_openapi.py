import json
from pathlib import Path

import pytest

from infra.openapi import APIS, document

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize("name", sorted(APIS))
def test_committed_openapi_documents_match_the_code(name):
    assert json.loads((DOCS / name).read_text()) == document(name), f"run `make openapi` and commit docs/{name}"


def test_every_route_of_the_contract_is_documented():
    paths = document()["paths"]
    assert {"/v1/health", "/v1/models", "/v1/disclosure", "/v1/decisions/{model_id}"} <= set(paths)
    assert {"/v1/explanations", "/v1/explanations/{decision_id}", "/v1/reports/fairness", "/v1/reports/attributions",
            "/v1/reports/page", "/v1/subjects/{subject_id}"} <= set(paths)  # fmt: skip
    page = paths["/v1/reports/page"]["get"]
    assert "text/html; charset=utf-8" in page["responses"]["200"]["content"]
    assert {"model_id", "from", "to", "attributes", "baseline_from", "baseline_to"} <= {
        p["name"] for p in page["parameters"]
    }
    decision = paths["/v1/decisions/{model_id}"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "413", "422", "503"} <= set(decision["responses"])


def test_the_customer_routes_document_the_token_and_the_403():
    paths = document("openapi-customer.json")["paths"]
    view = paths["/v1/explanations/{decision_id}/view"]["get"]
    assert "token" in {p["name"] for p in view["parameters"]}
    assert {"200", "403"} <= set(view["responses"])
    appeal = paths["/v1/explanations/{decision_id}/appeal"]["post"]
    assert {"200", "201", "403", "422"} <= set(appeal["responses"])
    assert set(appeal["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("name", sorted(APIS))
def test_every_422_is_the_error_envelope_and_every_iam_route_declares_its_auth(name):
    doc = document(name)
    assert "HTTPValidationError" not in json.dumps(doc)  # Powertools' default body: Candor never answers it
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
            if name == "openapi.json" and path != "/v1/health":
                assert operation["security"] == [{"sigv4": []}], (method, path)
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
