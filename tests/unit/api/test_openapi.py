import json
from pathlib import Path

from infra.openapi import document

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_committed_openapi_document_matches_the_code():
    assert json.loads(COMMITTED.read_text()) == document(), "run `make openapi` and commit docs/openapi.json"


def test_every_route_of_the_contract_is_documented():
    paths = document()["paths"]
    assert {"/v1/health", "/v1/models", "/v1/disclosure", "/v1/decisions/{model_id}"} <= set(paths)
    decision = paths["/v1/decisions/{model_id}"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "413", "422", "503"} <= set(decision["responses"])
