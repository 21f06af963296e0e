"""Print the OpenAPI document generated from the routes and pydantic models (`make openapi`)."""

from __future__ import annotations

import json

from functions.api.app import build_app
from functions.api.routes import catalog, decisions

DESCRIPTION = (
    "Candor wraps AI routing and decision calls: every answer carries a SHAP explanation, an AI-disclosure "
    "notice, and is sealed into a write-once audit record before it is returned. In AWS, callers sign requests "
    "with SigV4 (IAM roles candor-chatbot, candor-auditor, candor-privacy; chatbots also send an API key); on the "
    'local stack they send `Authorization: Bearer <token>`. Every error is {"error": {"code", "message", "field"?}}.'
)


def document() -> dict:
    app = build_app(catalog.router, decisions.router)
    schema = app.get_openapi_json_schema(title="Candor", version="1.0.0", description=DESCRIPTION)
    return json.loads(schema)


if __name__ == "__main__":
    print(json.dumps(document(), indent=2, sort_keys=True))
