"""Privacy canary: personal data sent through every route that takes input never shows up in clear
where it must not: function logs, EMF metrics, error messages, DynamoDB items (records, idempotency,
appeals), S3 objects (archive, receipts, digests).

Canaries: an e-mail address, phone numbers (E.164 and US forms), a Luhn-valid card number, a
mod-97-valid IBAN, and a person's name. Each is searched for as sent, and in its digits-only or
compact form, case-insensitively.

What it proves for names: a name cannot be told from other words by a regex, so a name in free
text is not redacted. The canary shows that (1) a name used as `subject_id` is stored only as a
keyed hash; (2) a name in a message reaches only the erasable personal part (S3 personal bucket),
never the sealed envelope, the index item, the idempotency record, logs or metrics, and is gone after
erasure; (3) a name in an appeal reason is kept with the appeal (for the human review) and nowhere else.
(2) holds because the bundled text model's vocabulary has no personal names, so a name gets no
attribution and is never quoted in an explanation; a model trained on texts full of names could
quote one. Segments are fairness group labels (age band, gender): stored as given in the erasable
places only (the personal part and the index item's `segments`, both removed by erasure); a segment
value is no place for an identifier, but if one is put there, this test shows it stays there.
`request_id`, `channel`, `locale` and `jurisdiction` are opaque keys and catalogue codes, not
fields for personal data, and are not covered.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from functions.domain.redaction import iban_valid, luhn_valid
from functions.stores.record_store import personal_key
from tests.e2e.customer import decided

HANDLERS = Path(__file__).resolve().parents[2] / "functions" / "handlers"


def _card() -> str:
    """A Luhn-valid 16-digit card number, printed in groups of four."""
    base = "453201511283036"
    check = next(d for d in "0123456789" if luhn_valid(base + d))
    digits = base + check
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


EMAIL = "zq.canary.7431@example.org"
PHONE = "+34 612 345 678"
US_PHONE = "(415) 555-0132"
CARD = _card()
IBAN = "ES91 2100 0418 4502 0005 1332"
NAME = "Zebulon Quiñonez-Abernathy"
SUBJECT = f"{NAME} <zq.subject.5521@example.org>"  # a subject id made of a name and an e-mail address
SEGMENT = "zq.segment.9902@example.org"

REDACTABLE = {
    "email": [EMAIL, "zq.subject.5521@example.org", "zq.canary", "zq.subject"],
    "phone": [PHONE, "612345678", "612 345 678", US_PHONE, "555-0132", "4155550132"],
    "card": [CARD, CARD.replace(" ", "")],
    "iban": [IBAN, IBAN.replace(" ", "")],
}
NAME_PARTS = ["Zebulon", "Quiñonez", "Abernathy"]
MESSAGE = (
    f"Hola, soy {NAME}. Me cobraron dos veces este mes. Mi correo es {EMAIL}, mi teléfono {PHONE} o {US_PHONE}, "
    f"la tarjeta {CARD} y la cuenta {IBAN}."
)
REASON = f"Soy {NAME}: no estoy de acuerdo. Escribidme a {EMAIL} o llamad al {PHONE}; tarjeta {CARD}, IBAN {IBAN}."


def found(text: str, needles: list[str]) -> list[str]:
    low = text.lower()
    return [needle for needle in needles if needle.lower() in low]


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)  # undo \u escapes
    except ValueError:
        return text


def dynamodb_items(api: Any) -> Iterator[tuple[str, str]]:
    """(table, item as JSON text) for every item of every table: a test may Scan."""
    client = api.aws("dynamodb")
    for table in client.list_tables()["TableNames"]:
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                yield table, json.dumps(item, ensure_ascii=False)


def s3_objects(api: Any) -> Iterator[tuple[str, str]]:
    """(bucket/key, body as text) for every object of every bucket."""
    client = api.aws("s3")
    for bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
                yield f"{bucket}/{entry['Key']}", _text(body)


def function_logs(api: Any) -> str:
    return "\n".join(path.read_text(errors="replace") for path in sorted(api.stack.logs_dir.glob("*.log")))


@pytest.fixture
def clean_logs(api: Any) -> None:
    """Empty the function log files (the gateway appends to them; truncation keeps the handles valid)."""
    for path in api.stack.logs_dir.glob("*.log"):
        path.write_text("")


def test_canaries_are_real_personal_data():
    assert luhn_valid(CARD.replace(" ", "")) and iban_valid(IBAN)


def test_no_canary_in_clear_outside_the_erasable_personal_part(api, clean_logs, capsys, caplog):
    responses: list[tuple[str, int, str]] = []

    def call(method: str, path: str, role: str | None, **kwargs: Any) -> Any:
        response = api.call(method, path, role=role, **kwargs)
        responses.append((f"{method} {path.split('?')[0]}", response.status_code, response.text))
        return response

    # 1. Decisions: the message, the subject id and a segment carry canaries.
    decision_id, token, _ = decided(
        api, "demo-chat-2", inputs={"text": MESSAGE}, subject_id=SUBJECT, segments={"age_band": "65+", "note": SEGMENT}
    )
    # ... and invalid requests with canaries, whose error messages must not repeat them.
    call("POST", "/v1/decisions/ticket-router", "chatbot", json={"request_id": "c-1", "inputs": {"text": MESSAGE * 40}})
    call("POST", "/v1/decisions/ticket-router", "chatbot", json={"request_id": "c-2", "subject_id": SUBJECT * 9,
                                                                 "inputs": {"text": MESSAGE}})  # fmt: skip
    call("POST", f"/v1/decisions/{quote(EMAIL)}", "chatbot", json={"request_id": "c-3", "inputs": {"text": MESSAGE}})
    call("POST", "/v1/decisions/ticket-router", "chatbot", data=MESSAGE.encode(),
         headers={"Content-Type": "text/plain"})  # fmt: skip
    call("POST", "/v1/decisions/ticket-router", "chatbot", data=f'{{"request_id": "{EMAIL}", "inputs": '.encode(),
         headers={"Content-Type": "application/json"})  # fmt: skip
    call("GET", "/v1/disclosure", "chatbot", params={"locale": EMAIL, "jurisdiction": "EU"})

    # 2. The customer's routes: the appeal reason, then bad tokens and over-long reasons.
    view = f"/v1/explanations/{decision_id}"
    appealed = call("POST", f"{view}/appeal?token={token}", None, json={"reason": REASON})
    assert appealed.status_code == 201, appealed.text
    call("POST", f"{view}/appeal?token={token}", None, json={"reason": REASON * 40})
    call("POST", f"{view}/appeal?token={quote(EMAIL)}", None, json={"reason": REASON})
    call("GET", f"{view}?token={quote(EMAIL)}", None)
    call("GET", f"{view}/view?token={quote(EMAIL)}", None)

    # 3. Auditors and the privacy officer: the subject id as a query parameter and in the erasure path.
    listed = call("GET", "/v1/explanations", "auditor", params={"subject_id": SUBJECT})
    assert [item["decision_id"] for item in listed.json()["items"]] == [decision_id]
    call("GET", "/v1/explanations", "auditor", params={"subject_id": SUBJECT, "from": EMAIL})
    call("GET", f"/v1/explanations/{quote(EMAIL)}", "auditor")
    call("GET", "/v1/reports/fairness", "auditor", params={"model_id": EMAIL, "attribute": "age_band"})

    # Before erasure: the name and the segment canary are in the erasable places only.
    api.stack.drain()  # the record copied into the buckets (and its pending item, with the name, deleted)
    personal_bucket = api.stack.env["CANDOR_PERSONAL_BUCKET"]
    records_table = api.stack.env["CANDOR_RECORDS_TABLE"]
    appeals_table = api.stack.env["CANDOR_APPEALS_TABLE"]
    where_name = {place for place, text in [*s3_objects(api), *dynamodb_items(api)] if found(text, NAME_PARTS)}
    assert where_name == {f"{personal_bucket}/{personal_key(decision_id)}", appeals_table}, where_name
    where_segment = {place for place, text in [*s3_objects(api), *dynamodb_items(api)] if found(text, [SEGMENT])}
    assert where_segment == {f"{personal_bucket}/{personal_key(decision_id)}", records_table}, where_segment

    erased = call("DELETE", f"/v1/subjects/{quote(SUBJECT, safe='')}", "privacy")
    assert erased.status_code == 200, erased.text
    assert [r["decision_id"] for r in erased.json()["records"]] == [decision_id]
    call("DELETE", f"/v1/subjects/{quote(SUBJECT * 9, safe='')}", "privacy")

    # After erasure: the name stays only with the appeal; the segment canary is gone.
    for place, text in [*s3_objects(api), *dynamodb_items(api)]:
        leaked = found(text, [needle for needles in REDACTABLE.values() for needle in needles] + [SEGMENT])
        assert not leaked, f"{place} holds {leaked}"
        if place != appeals_table:
            assert not found(text, NAME_PARTS), f"{place} holds the name"

    # Error messages, function logs, EMF metrics (printed to stdout) and Python log records.
    errors = [(route, status, text) for route, status, text in responses if status >= 400]
    assert len(errors) >= 12, [(route, status) for route, status, _ in errors]
    for route, status, text in errors:
        leaked = found(text, [n for needles in REDACTABLE.values() for n in needles] + NAME_PARTS + [SEGMENT])
        assert not leaked, f"{route} answered {status} with {leaked}: {text[:300]}"
    captured = capsys.readouterr()
    logs = function_logs(api)
    assert "DecisionsSealed" in logs + captured.out, "the metrics were not captured: the test would prove nothing"
    for source, text in [("function logs", logs), ("stdout (EMF metrics)", captured.out),
                         ("stderr", captured.err), ("log records", caplog.text)]:  # fmt: skip
        leaked = found(text, [n for needles in REDACTABLE.values() for n in needles] + NAME_PARTS + [SEGMENT])
        assert not leaked, f"{source} hold {leaked}"


def _decorator_calls(path: Path) -> dict[str, dict[str, Any]]:
    """{'inject_lambda_context': {kwarg: value}, 'capture_lambda_handler': {...}} of the module's handler."""
    calls: dict[str, dict[str, Any]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler":
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute):
                    calls[decorator.func.attr] = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords}
                elif isinstance(decorator, ast.Attribute) and decorator.attr in ("inject_lambda_context",
                                                                                 "capture_lambda_handler"):  # fmt: skip
                    calls[decorator.attr] = {}  # used bare: the defaults, which the assertions below reject
    return calls


@pytest.mark.parametrize("path", sorted(HANDLERS.glob("[!_]*.py")), ids=lambda p: p.stem)
def test_handlers_never_log_events_nor_trace_responses(path):
    source = path.read_text()
    assert "log_event=True" not in source and not re.search(r"capture_response\s*=\s*True", source)
    calls = _decorator_calls(path)
    assert calls.get("inject_lambda_context") == {"log_event": False}, f"{path.name}: log_event must be off"
    assert calls.get("capture_lambda_handler") == {"capture_response": False}, f"{path.name}: capture_response"
