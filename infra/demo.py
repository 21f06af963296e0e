"""`make demo`: a scripted chatbot conversation through the local stack, end to end.

Starts moto and the HTTP gateway, asks for the disclosure notice at first contact, sends
English and Spanish turns to both bundled models over HTTP, prints each answer with its
reasons and notice, and shows where each record landed (DynamoDB item, S3 object). Then
the same models behind HTTPS endpoints on 127.0.0.1: explained as black boxes in one
batched call, and once deferred, completed by the queue worker.
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import requests

from functions.stores.record_store import personal_key
from infra.local.stack import LocalStack
from infra.training.drifted_model import MODEL_ID, write_drifted_model
from infra.training.synthetic import refund_requests

CONVERSATION: list[tuple[str, dict[str, Any]]] = [
    (
        "ticket-router",
        {
            "request_id": "demo-chat-1",
            "subject_id": "customer-1042",
            "locale": "en-GB",
            "jurisdiction": "EU",
            "inputs": {
                "text": "Hi, I was charged twice for my subscription this month, card 4111 1111 1111 1111. "
                "Email me at ana@example.com"
            },
            "segments": {"age_band": "35-64"},
        },
    ),
    (
        "ticket-router",
        {
            "request_id": "demo-chat-2",
            "subject_id": "cliente-77",
            "locale": "es-ES",
            "jurisdiction": "EU",
            "inputs": {
                "text": "Mi pedido todavía no ha llegado y el seguimiento no se actualiza desde hace una semana"
            },
            "segments": {"age_band": "65+"},
        },
    ),
    (
        "ticket-router",
        {
            "request_id": "demo-chat-3",
            "subject_id": "cliente-77",
            "locale": "es-MX",
            "jurisdiction": "US-CA",
            "inputs": {"text": "No puedo iniciar sesión, la aplicación dice que mi contraseña es incorrecta"},
        },
    ),
    (
        "refund-decision",
        {
            "request_id": "demo-refund-1",
            "subject_id": "customer-1042",
            "locale": "en-US",
            "jurisdiction": "US-CA",
            "channel": "chat",
            "inputs": {
                "order_value": 89.9,
                "days_since_delivery": 4,
                "prior_refunds_12m": 0,
                "account_age_days": 1460,
                "orders_12m": 14,
                "previous_complaints": 0,
                "channel": "web",
                "item_category": "electronics",
                "delivery_status": "damaged",
                "return_reason": "damaged",
                "payment_method": "card",
                "is_member": True,
            },
            "segments": {"age_band": "35-64", "gender": "female"},
        },
    ),
    (
        "refund-decision",
        {
            "request_id": "demo-refund-2",
            "subject_id": "cliente-77",
            "locale": "es-ES",
            "jurisdiction": "EU",
            "channel": "phone",
            "inputs": {
                "order_value": 240.0,
                "days_since_delivery": 41,
                "prior_refunds_12m": 3,
                "account_age_days": 200,
                "orders_12m": 5,
                "previous_complaints": 2,
                "channel": "phone",
                "item_category": "home",
                "delivery_status": "delivered",
                "return_reason": "changed_mind",
                "payment_method": "cash_on_delivery",
                "is_member": False,
            },
            "segments": {"age_band": "65+", "gender": "male"},
        },
    ),
]

# The same models as customers usually run them: behind an HTTPS endpoint (infra/local/remote_models.py).
REMOTE_CONVERSATION: list[tuple[str, dict[str, Any]]] = [
    (
        "router-remote",
        {
            "request_id": "demo-remote-1",
            "locale": "es-ES",
            "jurisdiction": "EU",
            "inputs": {"text": "Me cobraron dos veces la suscripción este mes, quiero que me devuelvan el dinero"},
        },
    ),
    ("refund-remote", {**CONVERSATION[3][1], "request_id": "demo-remote-2"}),
]
DEFERRED = ("refund-deferred", {**CONVERSATION[4][1], "request_id": "demo-deferred-1"})


def _print_wrapped(label: str, text: str) -> None:
    print(textwrap.fill(text, width=100, initial_indent=f"  {label:<11}", subsequent_indent=" " * 13))


def _show_answer(model_id: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
    outcome, explanation, notice = answer["outcome"], answer["explanation"], answer["disclosure"]
    print(f"\n── {model_id} · {request['locale']} · {request['request_id']}")
    inputs = request["inputs"]
    _print_wrapped("customer", inputs["text"] if "text" in inputs else ", ".join(f"{k}={v}" for k, v in inputs.items()))
    if outcome.get("status") == "referred":  # the model's review_policy: a person decides, nothing automated is told
        print(f"  outcome    {outcome['display_name']} (referred to a person)")
    else:
        print(f"  outcome    {outcome['display_name']} ({outcome['label']}, score {outcome['score']:.2f})")
    _print_wrapped("why", explanation["summary"])
    for c in explanation["contributions"][:4]:
        value = f" = {c['display_value']}" if c.get("display_value") else ""
        print(f"    {c['attribution']:+.3f}  {c['display_name']}{value}")
    _show_method(explanation)
    _print_wrapped("notice", f"[{notice['notice_id']}] {notice['notice']}")
    print(f"  page       {answer['links']['customer_view'][:90]}...")


def _show_method(explanation: dict[str, Any]) -> None:
    if explanation["status"] in ("pending", "not_explained"):
        print(f"  method     {explanation['method']}: {explanation['status']} ({explanation['status_reason']})")
        return
    print(
        f"  method     {explanation['method']} ({'exact' if explanation['exact'] else 'approximate'}), "
        f"base {explanation['base_value']:+.3f} {explanation['output_units']}, "
        f"additivity error {explanation['additivity_error']:.1e}"
    )
    if sampling := explanation.get("sampling"):
        print(
            f"  sampling   {sampling['evaluations']} rows in {sampling['model_calls']} call(s) to the endpoint "
            f"(budget {sampling['max_evaluations']}), standard error <= {sampling['standard_error']:.3f}"
        )


def _completed(http: requests.Session, api: str, auditor: dict[str, str], decision_id: str) -> dict[str, Any] | None:
    """The worker's completion of a pending explanation, as the auditor API shows it (None after 60 s)."""
    for _ in range(120):
        record = http.get(f"{api}/v1/explanations/{decision_id}", headers=auditor, timeout=30).json()
        if record.get("completion"):
            return dict(record["completion"]["completion"]["explanation"])
        time.sleep(0.5)
    return None


BUNDLED_TRAFFIC = 200  # refund requests of the bundled synthetic traffic (seed 7: its age bands as trained)
VERSION_2_TRAFFIC = 120  # the same kind of requests to refund-decision-v2 (infra/training/drifted_model.py)


def _decide_all(http: requests.Session, api: str, chatbot: dict[str, str], model_id: str, bodies: list[Any]) -> bool:
    for body in bodies:
        response = http.post(f"{api}/v1/decisions/{model_id}", json=body, headers=chatbot, timeout=60)
        if response.status_code != 200:
            print(f"FAILED {model_id} {body['request_id']}: {response.status_code} {response.text}")
            return False
    return True


def _show_monitor(stack: LocalStack, when: datetime) -> dict[str, dict[str, Any]]:
    """Run the hourly monitoring job now (locally nothing fires on a schedule) and print its verdicts."""
    run = {r["model_id"]: r for r in stack.run_scheduled("MonitoringFunction", when)["reports"]}
    for model_id in ("refund-decision", MODEL_ID):
        print(f"  {model_id}: {run[model_id]['status']}  (signed report {run[model_id]['report']})")
        for line in run[model_id]["violations"]:
            print(f"    violated: {line}")
    return run


def _monitoring(stack: LocalStack, http: requests.Session, chatbot: dict[str, str]) -> bool:
    """The monitor on bundled traffic (age band trips, gender does not), then on a version that drifts."""
    bodies = [
        {"request_id": f"demo-monitor-{n}", "locale": "en", "inputs": r["inputs"], "segments": r["segments"]}
        for n, r in enumerate(refund_requests(BUNDLED_TRAFFIC, seed=7))
    ]
    print(f"\n{BUNDLED_TRAFFIC} refund decisions of the bundled traffic, then the hourly monitor:")
    if not _decide_all(http, stack.api_url, chatbot, "refund-decision", bodies):
        return False
    first = _show_monitor(stack, datetime.now(UTC))["refund-decision"]
    print(f"\n{VERSION_2_TRAFFIC} of them to {MODEL_ID} (retrained without days since delivery), the next hour's run:")
    if not _decide_all(http, stack.api_url, chatbot, MODEL_ID, bodies[:VERSION_2_TRAFFIC]):
        return False
    second = _show_monitor(stack, datetime.now(UTC) + timedelta(hours=1))[MODEL_ID]
    age_only = any("age_band (65+)" in v for v in first["violations"]) and not any(
        "gender" in v for v in first["violations"]
    )
    drifted = any(v.startswith("attribution_ndcg") for v in second["violations"])
    print("  (GET /v1/monitoring/<model_id> or `candor audit monitor --model <model_id>` shows them)")
    return age_only and drifted


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="candor-demo-models-") as registry:
        write_drifted_model(Path(registry))  # a second refund version, for the drift monitor
        return _demo(registry)


def _demo(registry: str) -> int:
    with LocalStack(models=registry) as stack:
        print(f"Local stack up: API {stack.api_url}  ·  AWS (moto) {stack.aws_url}")
        chatbot = {"Authorization": f"Bearer {stack.tokens['chatbot']}"}
        http = requests.Session()

        first = http.get(
            f"{stack.api_url}/v1/disclosure", params={"locale": "es-ES", "jurisdiction": "EU"}, headers=chatbot
        )
        first.raise_for_status()
        print("\nFirst contact, before any AI answer (GET /v1/disclosure?locale=es-ES&jurisdiction=EU):")
        _print_wrapped("notice", first.json()["notice"])

        answers = []
        for i, (model_id, request) in enumerate([*CONVERSATION, *REMOTE_CONVERSATION, DEFERRED]):
            if i == len(CONVERSATION):
                print(f"\nThe same models behind HTTPS endpoints ({', '.join(stack.remote_urls())}), as black boxes:")
            response = http.post(f"{stack.api_url}/v1/decisions/{model_id}", json=request, headers=chatbot, timeout=60)
            if response.status_code != 200:
                print(f"FAILED {model_id} {request['request_id']}: {response.status_code} {response.text}")
                return 1
            answers.append(response.json())
            _show_answer(model_id, request, answers[-1])

        auditor = {"Authorization": f"Bearer {stack.tokens['auditor']}"}
        completed = _completed(http, stack.api_url, auditor, answers[-1]["decision_id"])
        if completed is None:
            print("FAILED: the worker did not complete the deferred explanation")
            return 1
        print(f"\nThe worker completed {answers[-1]['decision_id']} (write-once completion, the record untouched):")
        _print_wrapped("why", completed["summary"])
        for c in completed["contributions"][:4]:
            print(f"    {c['attribution']:+.3f}  {c['feature']}")

        replay = http.post(f"{stack.api_url}/v1/decisions/ticket-router", json=CONVERSATION[0][1], headers=chatbot)
        same = replay.json()["decision_id"] == answers[0]["decision_id"]
        print(f"\nReplay of {CONVERSATION[0][1]['request_id']}: same decision returned, nothing new stored: {same}")

        env = stack.env
        dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws_url, region_name=env["AWS_DEFAULT_REGION"])
        s3 = boto3.client("s3", endpoint_url=stack.aws_url, region_name=env["AWS_DEFAULT_REGION"])
        table, bucket, personal = (
            env["CANDOR_RECORDS_TABLE"],
            env["CANDOR_ARCHIVE_BUCKET"],
            env["CANDOR_PERSONAL_BUCKET"],
        )
        stack.drain()  # the archive copier writes the objects from the pending table, just after each answer
        print(f"\nWhere the records landed (table {table}, bucket {bucket}, copied there from the pending table):")
        for answer in answers:
            item = dynamodb.get_item(TableName=table, Key={"decision_id": {"S": answer["decision_id"]}})["Item"]
            key = item["archive_key"]["S"]
            head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            print(
                f"  {answer['decision_id']}  outcome={item['outcome']['S']:<18} "
                f"sha256={item['content_sha256']['S'][:16]}…"
            )
            print(
                f"      envelope  s3://{bucket}/{key}  ({head['ContentLength']} bytes, {head['ServerSideEncryption']})"
            )
            print(f"      personal  s3://{personal}/{personal_key(answer['decision_id'])}  (erasable)")
        first_personal = s3.get_object(Bucket=personal, Key=personal_key(answers[0]["decision_id"]))
        stored_text = json.loads(first_personal["Body"].read())["inputs"]["text"]
        print(f"\nThe first message as stored, personal data redacted:\n  {stored_text}")
        count = dynamodb.scan(TableName=table, Select="COUNT")["Count"]  # a demo may count; the API never scans
        print(f"\n{count} records stored for {len(answers)} decisions (the replay added none).")
        if not same or count != len(answers):
            return 1
        if not _monitoring(stack, http, chatbot):
            print("FAILED: the monitor did not flag the age band alone, then the drift")
            return 1
        print(
            "\nKeep a stack up with `make serve`, then: "
            f"aws --endpoint-url http://127.0.0.1:4566 dynamodb scan --table-name {table}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
