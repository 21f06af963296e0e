"""Library mode: the example of docs/library-mode.md, run as written against moto, and its SAM snippet."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import boto3
import lightgbm
import numpy as np
import pytest
import yaml

from functions.domain.errors import ManifestError
from functions.domain.seal import verify
from functions.schemas.settings import BUNDLED_MODELS
from infra import template as tpl
from infra.training.synthetic import refund_requests
from tests.support import fresh_container, record_store

DOC = Path(__file__).resolve().parents[2] / "docs" / "library-mode.md"
MODEL_FILE = str(BUNDLED_MODELS / "refund-decision" / "model.txt")


def doc_block(language: str, index: int = 0) -> str:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)[index]


@pytest.fixture
def inline_registry(tmp_path: Path, aws_env, monkeypatch) -> Path:
    """The bundled refund model's manifest turned into a library-mode one, as the doc describes."""
    folder = tmp_path / "models" / "refund-inline"
    folder.mkdir(parents=True)
    shutil.copy(BUNDLED_MODELS / "refund-decision" / "background.json", folder)
    manifest = json.loads((BUNDLED_MODELS / "refund-decision" / "manifest.json").read_text())
    documented = json.loads(doc_block("json"))
    manifest.update({k: documented[k] for k in ("id", "adapter", "explainer")})
    del manifest["artifact"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("CANDOR_MODELS_URI", str(tmp_path / "models"))
    fresh_container()
    return folder


def request(request_id: str, **changes: Any) -> dict[str, Any]:
    body = {k: v for k, v in refund_requests(1, seed=11)[0].items() if k != "label"}  # label: the data's truth
    return {**body, "request_id": request_id, **changes}


def load_example() -> dict[str, Any]:
    namespace: dict[str, Any] = {"MODEL_FILE": MODEL_FILE}
    exec(compile(doc_block("python"), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


def test_the_documented_function_decides_explains_and_seals_like_the_route(inline_registry, aws_env):
    example = load_example()
    body = request("lib-1", locale="es-ES", subject_id="c-7")

    answer = example["lambda_handler"]({"body": json.dumps(body)}, None)

    assert answer["statusCode"] == 200
    decision = json.loads(answer["body"])
    explanation = decision["explanation"]
    assert explanation["status"] == "complete" and explanation["exact"] is False
    assert explanation["sampling"]["model_calls"] <= 2
    assert explanation["sampling"]["standard_error"] >= 0
    assert explanation["summary_locale"] == "es" and decision["disclosure"]["ai_system"] is True
    explained_output = explanation["base_value"] + sum(c["attribution"] for c in explanation["contributions"])
    assert explained_output == pytest.approx(_log_odds(body["inputs"]), abs=1e-6)  # additive, to the real model
    stored = record_store(aws_env, boto3.client("dynamodb"), boto3.client("s3")).get(decision["decision_id"])
    assert stored is not None and verify(stored.record)
    assert stored.record.envelope.model.id == "refund-inline" and stored.record.envelope.explainer.exact is False
    assert stored.record.envelope.explanation.sampling is not None


def test_the_decorated_function_is_still_the_users_function(inline_registry):
    example = load_example()
    rows = np.zeros((3, 12))
    np.testing.assert_array_equal(example["refund_model"](rows), lightgbm.Booster(model_file=MODEL_FILE).predict(rows))


def test_bad_input_is_a_typed_4xx_and_stores_nothing(inline_registry, aws_env):
    example = load_example()
    body = request("lib-2")
    body["inputs"]["order_value"] = -5
    answer = example["lambda_handler"]({"body": json.dumps(body)}, None)
    assert answer["statusCode"] == 422 and json.loads(answer["body"])["error"]["field"] == "inputs.order_value"
    assert boto3.client("dynamodb").scan(TableName=aws_env["CANDOR_RECORDS_TABLE"])["Count"] == 0


def test_a_manifest_that_is_not_python_callable_fails_at_decoration(aws_env, monkeypatch):
    from functions.library import explained

    monkeypatch.setenv("CANDOR_MODELS_URI", str(BUNDLED_MODELS))
    fresh_container()
    with pytest.raises(ManifestError, match=r"adapter\.type must be python_callable"):
        explained(model_id="refund-decision")(lambda rows: rows)


def test_the_sam_snippet_translates_next_to_the_candor_stack():
    from samtranslator.translator.transform import transform

    document = copy.deepcopy(tpl.load_template())
    document["Resources"] = {
        name: resource
        for name, resource in document["Resources"].items()
        if not resource["Type"].startswith("AWS::Serverless::")  # only the snippet is under test
    }
    snippet = yaml.load(doc_block("yaml"), Loader=tpl.CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    snippet["RefundsFunction"]["Properties"]["CodeUri"] = "s3://build/refunds.zip"  # what `sam package` puts there
    document["Resources"].update(snippet)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        cfn = transform(document, {}, _NoManagedPolicies())
    role = cfn["Resources"]["RefundsFunctionRole"]["Properties"]
    actions = {a for p in role["Policies"] for s in p["PolicyDocument"]["Statement"] for a in _list(s["Action"])}
    assert "dynamodb:PutItem" in actions  # writes records, and can neither change nor delete them
    assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "s3:DeleteObject"} & actions


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _log_odds(inputs: dict[str, Any]) -> float:
    from functions.adapters.in_process import encode_row
    from functions.schemas.manifest import ModelManifest

    manifest = ModelManifest.model_validate_json((BUNDLED_MODELS / "refund-decision" / "manifest.json").read_text())
    row = encode_row(manifest, inputs)[None, :]
    return float(lightgbm.Booster(model_file=MODEL_FILE).predict(row, raw_score=True)[0])
