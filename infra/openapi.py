"""Write the OpenAPI documents generated from the routes and pydantic models (`make openapi`).

Two documents, as there are two APIs: the main one (IAM: chatbots, auditors, privacy
officers) and the public customer API (authorized by the customer link's signed token).
Both serve `GET /v1/explanations/{decision_id}`: to auditors on the first, to the customer
on the second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.app import build_app
from functions.api.auth import security_schemes
from functions.api.routes import (
    audit,
    catalog,
    customer,
    decisions,
    monitoring,
    privacy,
    report_page,
    review_pages,
    reviews,
)

COMMON = (
    "Candor wraps AI routing and decision calls: every answer carries a SHAP explanation, an AI-disclosure "
    "notice, and is sealed into a write-once audit record before it is returned. "
    'Every error is {"error": {"code", "message", "field"?}}. '
)
APIS: dict[str, tuple[str, tuple[Router, ...], str]] = {  # file: (title, routers, description)
    "openapi.json": (
        "Candor",
        (
            catalog.router,
            decisions.router,
            audit.router,
            report_page.router,
            monitoring.router,
            privacy.router,
            reviews.router,
            review_pages.router,
        ),
        COMMON + "In AWS, callers sign requests with SigV4 (IAM roles candor-chatbot, candor-auditor, "
        "candor-privacy, candor-reviewer; chatbots also send an API key); on the local stack they send "
        "`Authorization: Bearer <token>`.",
    ),
    "openapi-customer.json": (
        "Candor customer API",
        (customer.router,),
        COMMON + "The customer routes are a separate public API, authorized by the signed, expiring token of "
        "the customer link (`?token=`), not by IAM.",
    ),
}


_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_POWERTOOLS_ONLY = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _true_validation_errors(doc: dict) -> dict:
    """Make the 422 Powertools adds to every operation say what Candor answers.

    Powertools documents its own `HTTPValidationError` body; Candor answers every request validation
    error, and any query parameter the route does not declare, with the error envelope
    (functions/api/errors.py, functions/api/app.py). Routes that document their own 422 keep it.
    """
    for operation in (op for item in doc["paths"].values() for op in item.values()):
        responses = operation["responses"]
        default = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if default.get("$ref") == "#/components/schemas/HTTPValidationError":
            responses["422"] = {"description": "An unknown or invalid query parameter", "content": _ERROR_BODY}
    text = json.dumps(doc["paths"])
    schemas = doc["components"]["schemas"]
    for name in _POWERTOOLS_ONLY:
        if f'"#/components/schemas/{name}"' not in text:
            schemas.pop(name, None)
    return doc


def document(name: str = "openapi.json") -> dict:
    title, routers, description = APIS[name]
    schemes = security_schemes() if name == "openapi.json" else None  # the customer API is not IAM-authorized
    generated = build_app(*routers).get_openapi_json_schema(
        title=title, version="1.0.0", description=description, security_schemes=schemes
    )
    return _true_validation_errors(json.loads(generated))


def write(directory: Path) -> None:
    for name in APIS:
        (directory / name).write_text(json.dumps(document(name), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
