"""The sample events of `events/`: API Gateway events for every route, an SQS job for the explanation
worker and the integrity job's hourly schedule.

    python -m infra.local.stack events [--check]   # (re)write events/*.json, or list the stale ones

They are built by the local gateway's own event builder, so they are the events the local stack
sends; `sam local invoke -e` and the tests (tests/integration/test_events.py, test_built_artifacts.py)
use the same files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra import template as tpl
from infra.local.aws import REGION
from infra.local.gateway import make_event
from infra.local.sqs_event_source import sqs_event

EVENTS_DIR = tpl.REPO_ROOT / "events"

TICKET_ES = {
    "request_id": "demo-1",
    "subject_id": "customer-42",
    "locale": "es-ES",
    "jurisdiction": "EU",
    "channel": "chat",
    "inputs": {"text": "Me cobraron dos veces este mes"},
    "segments": {"age_band": "65+"},
}
TICKET_EN = {
    "request_id": "demo-2",
    "subject_id": "customer-7",
    "locale": "en",
    "jurisdiction": "US-CA",
    "channel": "email",
    "inputs": {"text": "I can't log in to my account since the password reset"},
    "segments": {"age_band": "25-34"},
}
REFUND = {
    "request_id": "demo-3",
    "subject_id": "customer-42",
    "locale": "en",
    "jurisdiction": "EU",
    "channel": "web",
    "inputs": {
        "order_value": 129.9,
        "days_since_delivery": 12,
        "prior_refunds_12m": 1,
        "account_age_days": 840,
        "orders_12m": 9,
        "previous_complaints": 0,
        "channel": "web",
        "item_category": "electronics",
        "delivery_status": "damaged",
        "return_reason": "damaged",
        "payment_method": "card",
        "is_member": True,
    },
    "segments": {"age_band": "35-64", "gender": "female"},
}

_EVENT_TIME = datetime(2026, 8, 3, 9, 0, 0, tzinfo=UTC)
SAMPLE_DECISION = "01K1R5Q8X0EXAMPLE000000000"
# Well-formed (payload.mac) but signed with no real key: the customer routes must answer 403.
FORGED_TOKEN = "MDFLMVI1UThYMEVYQU1QTEUwMDAwMDAwMDAuMTgwMDAwMDAwMA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"  # noqa: S105 - a deliberately invalid sample


def sample_events(template_path: Path | str = tpl.TEMPLATE_PATH) -> dict[str, dict[str, Any]]:
    """file name -> API Gateway proxy event, one per route plus bad inputs, built by the gateway itself."""
    routes = tpl.routes(tpl.load_template(template_path))
    missing_id = {k: v for k, v in TICKET_EN.items() if k != "request_id"}
    specs: dict[str, dict[str, Any]] = {
        "health": {"method": "GET", "path": "/v1/health"},
        "models": {"method": "GET", "path": "/v1/models", "role": "chatbot"},
        "disclosure-en": {
            "method": "GET",
            "path": "/v1/disclosure",
            "role": "chatbot",
            "query": {"locale": "en", "jurisdiction": "default"},
        },
        "disclosure-es-eu": {
            "method": "GET",
            "path": "/v1/disclosure",
            "role": "chatbot",
            "query": {"locale": "es-ES", "jurisdiction": "EU"},
        },
        "decision-ticket-router-en": {"path": "/v1/decisions/ticket-router", "body": TICKET_EN},
        "decision-ticket-router-es": {"path": "/v1/decisions/ticket-router", "body": TICKET_ES},
        "decision-refund": {"path": "/v1/decisions/refund-decision", "body": REFUND},
        "decision-malformed-json": {
            "path": "/v1/decisions/ticket-router",
            "body": '{"request_id": "bad-1", "inputs": {"text": "hola"',
        },
        "decision-unknown-model": {
            "path": "/v1/decisions/no-such-model",
            "body": {**TICKET_EN, "request_id": "bad-2"},
        },
        "decision-missing-request-id": {"path": "/v1/decisions/ticket-router", "body": missing_id},
        # Handlers check the role themselves (defence in depth): these must get 403 / 401 from them.
        "decision-wrong-role": {
            "path": "/v1/decisions/ticket-router",
            "body": {**TICKET_EN, "request_id": "bad-3"},
            "role": "auditor",
        },
        "decision-no-identity": {
            "path": "/v1/decisions/ticket-router",
            "body": {**TICKET_EN, "request_id": "bad-4"},
            "role": None,
        },
        # Customer routes (public CustomerApi): a token that was never signed gets the same 403 everywhere.
        "customer-view-bad-token": {
            "method": "GET",
            "path": f"/v1/explanations/{SAMPLE_DECISION}/view",
            "query": {"token": FORGED_TOKEN},
            "role": None,
        },
        "customer-explanation-no-token": {
            "method": "GET",
            "path": f"/v1/explanations/{SAMPLE_DECISION}",
            "role": None,
        },
        "customer-appeal-bad-token": {
            "path": f"/v1/explanations/{SAMPLE_DECISION}/appeal",
            "query": {"token": FORGED_TOKEN},
            "body": {"reason": "The parcel arrived broken and the refund was denied"},
            "role": None,
        },
        # Auditor and privacy routes (main API, IAM).
        "audit-list": {
            "method": "GET",
            "path": "/v1/explanations",
            "query": {"model_id": "refund-decision", "from": "2026-08-01T00:00:00Z", "to": "2026-08-04T00:00:00Z"},
            "role": "auditor",
        },
        "audit-get": {"method": "GET", "path": f"/v1/explanations/{SAMPLE_DECISION}", "role": "auditor"},
        "audit-reviews": {
            "method": "GET",
            "path": "/v1/reports/reviews",
            "query": {
                "model_id": "refund-decision",
                "attribute": "age_band",
                "from": "2026-08-01T00:00:00Z",
                "to": "2026-08-04T00:00:00Z",
            },
            "role": "auditor",
        },
        "audit-fairness": {
            "method": "GET",
            "path": "/v1/reports/fairness",
            "query": {
                "model_id": "refund-decision",
                "attribute": "age_band",
                "from": "2026-08-01T00:00:00Z",
                "to": "2026-08-04T00:00:00Z",
            },
            "role": "auditor",
        },
        "audit-attributions": {
            "method": "GET",
            "path": "/v1/reports/attributions",
            "query": {"model_id": "refund-decision", "from": "2026-08-01T00:00:00Z", "to": "2026-08-04T00:00:00Z"},
            "role": "auditor",
        },
        "audit-report-page": {
            "method": "GET",
            "path": "/v1/reports/page",
            "query": {
                "model_id": "refund-decision",
                "attributes": "age_band,gender",
                "from": "2026-08-01T00:00:00Z",
                "to": "2026-08-04T00:00:00Z",
            },
            "role": "auditor",
        },
        "audit-by-chatbot": {"method": "GET", "path": "/v1/explanations", "query": {"model_id": "refund-decision"}},
        "privacy-erase": {"method": "DELETE", "path": "/v1/subjects/customer-42", "role": "privacy"},
        "privacy-legal-hold": {
            "method": "PUT",
            "path": f"/v1/explanations/{SAMPLE_DECISION}/legal-hold",
            "body": {"on": True},
            "role": "privacy",
        },
        "audit-verify": {
            "method": "GET",
            "path": "/v1/integrity/verify",
            "query": {"from": "2026-08-03T00:00:00Z", "to": "2026-08-03T06:00:00Z"},
            "role": "auditor",
        },
        # Reviewer routes (docs/reviewers.md).
        "review-queue": {
            "method": "GET",
            "path": "/v1/reviews",
            "query": {"model_id": "refund-decision", "adverse": "true"},
            "role": "reviewer",
        },
        "review-case": {"method": "GET", "path": f"/v1/reviews/{SAMPLE_DECISION}", "role": "reviewer"},
        "review-claim": {"method": "POST", "path": f"/v1/reviews/{SAMPLE_DECISION}/claim", "role": "reviewer"},
        "review-resolve": {
            "method": "POST",
            "path": f"/v1/reviews/{SAMPLE_DECISION}/resolve",
            "body": {"verdict": "upheld", "reason": "The refund policy applies as the AI applied it."},
            "role": "reviewer",
        },
        "reviewer-queue-page": {
            "method": "GET",
            "path": "/v1/reviewer/queue",
            "query": {"model_id": "refund-decision"},
            "role": "reviewer",
        },
        "reviewer-case-page": {"method": "GET", "path": f"/v1/reviewer/cases/{SAMPLE_DECISION}", "role": "reviewer"},
        "reviewer-case-form": {
            "method": "POST",
            "path": f"/v1/reviewer/cases/{SAMPLE_DECISION}",
            "body": "action=claim",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "role": "reviewer",
        },
        "review-by-auditor": {
            "method": "GET",
            "path": "/v1/reviews",
            "query": {"model_id": "refund-decision"},
            "role": "auditor",
        },
        "audit-monitoring": {
            "method": "GET",
            "path": "/v1/monitoring/refund-decision",
            "query": {"from": "2026-08-02T00:00:00Z", "to": "2026-08-03T06:00:00Z", "limit": "24"},
            "role": "auditor",
        },
    }
    events: dict[str, dict[str, Any]] = {}
    for name, spec in specs.items():
        events[f"{name}.json"] = make_event(
            spec.get("method", "POST"),
            spec["path"],
            routes=routes,
            body=spec.get("body"),
            headers=spec.get("headers"),
            query=spec.get("query"),
            role=spec.get("role", "chatbot"),
            request_id=f"evt-{name}",
            now=_EVENT_TIME,
        )
    events["explanation-job.json"] = _explanation_job()
    events["review-notification.json"] = _review_notification()
    events["integrity-schedule.json"] = _integrity_schedule()
    events["monitoring-schedule.json"] = schedule_event("candor-monitoring-hourly", _EVENT_TIME)
    events["records-stream.json"] = _records_stream()
    events["pending-records-stream.json"] = _pending_records_stream()
    return events


def _records_stream() -> dict[str, Any]:
    """What the rollup function gets from the records table's stream: one new decision's index item."""
    from infra.local.stream_event_source import lambda_stream_event

    image = {
        "decision_id": {"S": "01KB0000000000000000000001"},
        "decided_at": {"S": "2026-08-03T05:12:00.000Z"},
        "model_id": {"S": "refund-decision"},
        "model_version": {"S": "1.0.0"},
        "outcome": {"S": "approve"},
        "adverse": {"BOOL": False},
        "notice_id": {"S": "eu-en-2026-11"},
        "method": {"S": "tree_shap"},
        "explanation_status": {"S": "complete"},
        "attributions": {"M": {"order_value": {"N": "-0.42"}, "channel": {"N": "0.17"}}},
        "segments": {"M": {"age_band": {"S": "25-44"}, "gender": {"S": "f"}}},
    }
    record = {
        "eventID": "c81e728d9d4c2f636f067f89cc14862c",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": int(_EVENT_TIME.timestamp()),
            "Keys": {"decision_id": image["decision_id"]},
            "NewImage": image,
            "SequenceNumber": "100000000000000000001",
            "SizeBytes": 512,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    stream = f"arn:aws:dynamodb:{REGION}:123456789012:table/candor-records/stream/2026-08-01T00:00:00.000"
    return lambda_stream_event([record], stream)


def _pending_records_stream() -> dict[str, Any]:
    """What the archive copier gets from the pending-records table's stream: keys only, never the record."""
    from infra.local.stream_event_source import lambda_stream_event

    record = {
        "eventID": "eccbc87e4b5ce2fe28308fd9f2a7baf3",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": int(_EVENT_TIME.timestamp()),
            "Keys": {"decision_id": {"S": "01KB0000000000000000000001"}},
            "SequenceNumber": "200000000000000000001",
            "SizeBytes": 40,
            "StreamViewType": "KEYS_ONLY",
        },
    }
    stream = f"arn:aws:dynamodb:{REGION}:123456789012:table/candor-pending-records/stream/2026-08-01T00:00:00.000"
    return lambda_stream_event([record], stream)


def _explanation_job() -> dict[str, Any]:
    """What the explanation worker gets from its queue: one pending decision to complete."""
    body = json.dumps({"decision_id": "01KB0000000000000000000000", "model_id": "refund-deferred"})
    message = {
        "MessageId": "0b5cfa3e-6a8f-4c2e-9a53-2f4f0f3a1c11",
        "ReceiptHandle": "evt-explanation-job",
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum of the body
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1785722400000"},
    }
    return sqs_event([message], f"arn:aws:sqs:{REGION}:123456789012:candor-explanations")


def _review_notification() -> dict[str, Any]:
    """What the review webhook function gets from its queue: one resolved review to post."""
    body = json.dumps(
        {
            "event": "review.resolved",
            "decision_id": "01KB0000000000000000000000",
            "verdict": "overturned",
            "outcome_in_force": "approve",
            "resolved_at": "2026-08-03T06:00:00.000Z",
            "review_sha256": "0" * 64,
        },
        separators=(",", ":"),
    )
    message = {
        "MessageId": "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e",
        "ReceiptHandle": "evt-review-notification",
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum of the body
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1785736800000"},
    }
    return sqs_event([message], f"arn:aws:sqs:{REGION}:123456789012:candor-reviewnotificationqueue")


def schedule_event(rule: str, time: datetime) -> dict[str, Any]:
    """What an hourly EventBridge rule sends its function at `time`."""
    return {
        "version": "0",
        "id": "5a7e5b2c-0000-4000-8000-000000000000",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/{rule}"],
        "detail": {},
    }


def _integrity_schedule() -> dict[str, Any]:
    """What the integrity job's hourly EventBridge rule sends it."""
    return schedule_event("candor-integrity-hourly", _EVENT_TIME)


def _render(event: Mapping[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def write_events(directory: Path = EVENTS_DIR, *, check: bool = False) -> list[str]:
    """Write events/*.json (or, with check, list the files that differ from what would be written)."""
    stale: list[str] = []
    directory.mkdir(parents=True, exist_ok=True)
    for name, event in sample_events().items():
        path = directory / name
        text = _render(event)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not check:
            path.write_text(text, encoding="utf-8")
    return stale
