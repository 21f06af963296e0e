"""Requests in the model's own format, answers read back and checked strictly (no network)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from functions.adapters.remote.codec import AnswerDecoder, CsvEncoder, TemplateEncoder, decode_csv
from functions.adapters.remote.probabilities import to_probabilities
from functions.domain.errors import ModelOutputInvalid
from functions.schemas.manifest import ModelManifest
from infra.local.model_server import remote_manifest

HTTPS = {"type": "https_endpoint", "url": "https://models.example.com/predict"}


@pytest.fixture(scope="module")
def refund() -> ModelManifest:
    return remote_manifest("refund-decision", HTTPS)


def _row(manifest: ModelManifest, **values: float) -> list[float]:
    return [values.get(f.name, 0.0) for f in manifest.features]


# --- requests ----------------------------------------------------------------------------------


def test_rows_fill_the_placeholder_and_leave_the_rest_of_the_template_alone(refund: ModelManifest) -> None:
    template = {"signature_name": "serving_default", "inputs": {"rows": "$rows", "version": 3}, "tags": ["a"]}
    rows = np.array([_row(refund, order_value=12.5, channel=2.0), _row(refund, order_value=0.1 + 0.2)])
    sent = json.loads(TemplateEncoder(refund, template, "$rows").encode(rows))
    assert sent == {"signature_name": "serving_default", "inputs": {"rows": rows.tolist(), "version": 3}, "tags": ["a"]}
    assert sent["inputs"]["rows"][1][0] == 0.1 + 0.2  # floats go out exactly


def test_records_name_features_and_categories(refund: ModelManifest) -> None:
    row = _row(refund, order_value=49.9, days_since_delivery=3, channel=2, payment_method=3, is_member=1)
    (record,) = json.loads(TemplateEncoder(refund, {"data": "$records"}, "$records").encode(np.array([row])))["data"]
    assert list(record) == [f.name for f in refund.features]
    assert record["order_value"] == 49.9
    assert record["days_since_delivery"] == 3
    assert isinstance(record["days_since_delivery"], int)
    assert record["channel"] == "phone"
    assert record["payment_method"] == "cash_on_delivery"
    assert record["item_category"] == "electronics"
    assert record["is_member"] is True


def test_a_row_with_no_such_category_is_not_sent(refund: ModelManifest) -> None:
    with pytest.raises(ValueError, match="channel"):
        TemplateEncoder(refund, {"data": "$records"}, "$records").encode(np.array([_row(refund, channel=7)]))


def test_texts_go_as_strings() -> None:
    router = remote_manifest("ticket-router", {**HTTPS, "request_template": {"inputs": "$texts"}})
    body = TemplateEncoder(router, {"inputs": "$texts"}, "$texts").encode(["Mi pedido no ha llegado", "refund?"])
    assert json.loads(body) == {"inputs": ["Mi pedido no ha llegado", "refund?"]}


def test_csv_rows_read_back_exactly() -> None:
    rows = np.array([[0.1 + 0.2, 1e-300, 3.0], [1 / 3, -2.5, 1e17]])
    body = CsvEncoder().encode(rows)
    assert body.count(b"\n") == 2
    assert b"," in body
    assert np.array_equal(np.array(decode_csv(body)), rows)


def test_non_finite_rows_are_not_sent_as_csv() -> None:
    with pytest.raises(ValueError, match="finite"):
        CsvEncoder().encode(np.array([[np.nan, 1.0]]))


# --- answers -----------------------------------------------------------------------------------


def test_json_answers_are_read_through_the_response_path() -> None:
    answer = json.dumps({"predictions": [{"probabilities": [0.2, 0.8]}, {"probabilities": [0.9, 0.1]}]}).encode()
    decoder = AnswerDecoder("predictions[*].probabilities")
    assert decoder.decode(answer, "application/json; charset=utf-8") == [[0.2, 0.8], [0.9, 0.1]]


def test_csv_answers_are_read_by_content_type_whatever_the_manifest_expected() -> None:
    assert AnswerDecoder("ignored").decode(b"0.25\n0.75\n", "text/csv") == [0.25, 0.75]
    assert AnswerDecoder("ignored", expected="text/csv").decode(b"0.1,0.9\r\n0.6,0.4", None) == [[0.1, 0.9], [0.6, 0.4]]
    assert AnswerDecoder("p", expected="text/csv").decode(b'{"p": [0.5]}', "application/json") == [0.5]


def test_an_answer_that_is_not_json_is_described_not_echoed() -> None:
    page = b"<html>" + b"secret customer data " * 100 + b"</html>"
    with pytest.raises(ModelOutputInvalid) as caught:
        AnswerDecoder("predictions").decode(page, "text/html")
    assert "not JSON" in caught.value.message
    assert f"{len(page)} bytes" in caught.value.message
    assert "text/html" in caught.value.message
    assert "customer" not in caught.value.message


def test_a_response_path_that_finds_nothing_names_the_path_and_the_shape() -> None:
    with pytest.raises(ModelOutputInvalid) as caught:
        AnswerDecoder("predictions[*].score").decode(b'{"outputs": [0.1], "model": "v2"}', "application/json")
    assert "'predictions[*].score'" in caught.value.message
    assert "outputs, model" in caught.value.message


def test_csv_answers_must_be_numbers() -> None:
    with pytest.raises(ModelOutputInvalid, match="line 2"):
        decode_csv(b"0.5\napproved\n")


# --- probabilities -----------------------------------------------------------------------------


def test_binary_scores_become_both_label_probabilities() -> None:
    assert np.array_equal(to_probabilities([0.25, 1, 0], 3, 2), [[0.75, 0.25], [0.0, 1.0], [1.0, 0.0]])
    assert np.array_equal(to_probabilities([[0.25], [0.5]], 2, 2), [[0.75, 0.25], [0.5, 0.5]])


def test_label_vectors_are_kept_in_label_order() -> None:
    values = [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]
    assert np.array_equal(to_probabilities(values, 2, 3), values)


@pytest.mark.parametrize(
    ("values", "rows", "labels", "problem"),
    [
        ({"p": [0.5]}, 1, 2, "expected a list of 1 predictions from the model, got an object"),
        ([0.5, 0.5], 3, 2, "sent 3 rows to the model, its answer has 2 predictions"),
        ([0.5], 1, 3, "prediction 0 is a single score, but the model has 3 labels"),
        ([[0.5, 0.5]], 1, 3, "prediction 0 has 2 values, the model has 3 labels"),
        ([[0.2, 0.8], 0.5], 2, 2, "prediction 1 has a different shape from prediction 0"),
        (["0.5"], 1, 2, "prediction 0 is a string"),
        ([True], 1, 2, "prediction 0 is a boolean"),
        ([[0.5, None]], 1, 2, "prediction 0, item 1 is null"),
        ([1.5], 1, 2, "prediction 0: 1.5 is not a probability"),
        ([[-0.2, 1.2]], 1, 2, "prediction 0: -0.2 is not a probability"),
        ([0.5, float("nan")], 2, 2, "prediction 1 is not a finite number"),
        ([[0.4, 0.4], [0.3, 0.3]], 2, 2, "prediction 0: its 2 probabilities sum to 0.8, not 1"),
        ([10**400], 1, 2, "prediction 0 is not a probability"),
    ],
)
def test_answers_that_are_not_probabilities_say_what_is_wrong(
    values: Any, rows: int, labels: int, problem: str
) -> None:
    with pytest.raises(ModelOutputInvalid) as caught:
        to_probabilities(values, rows, labels)
    assert problem in caught.value.message


def test_rounding_within_tolerance_is_accepted() -> None:
    assert to_probabilities([[0.3333, 0.3333, 0.3333]], 1, 3).shape == (1, 3)
    assert to_probabilities([[1.0000000000001, 0.0]], 1, 2)[0, 0] == 1.0  # clipped, not refused
