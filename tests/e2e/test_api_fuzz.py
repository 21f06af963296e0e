"""Schemathesis over every operation of both OpenAPI documents, against the local stack.

Each operation is called with positive (schema-valid) and negative (schema-violating) data and
checked for: no 5xx, only documented statuses, responses that match their documented schema,
negative data rejected with a 4xx, and authentication enforced (schemathesis's `ignored_auth`
re-sends a successful call without credentials and with a made-up `Authorization`, and expects
401/403; this file re-sends it with each other role's real token and expects 403).

Callers use the role each route is for: chatbot for decisions, disclosure and models, auditor
for the auditor routes, privacy for erasure, nobody for health. The customer routes get no IAM
credentials, only whatever `token` schemathesis draws, so every answer must be a refusal: a
drawn token is never a valid signed link.

The seed is fixed (`derandomize`) and the number of examples per operation bounded for the
gate. To fuzz longer (new seeds: set FUZZ_DERANDOMIZE=0):

    FUZZ_EXAMPLES=500 .venv/bin/pytest tests/e2e/test_api_fuzz.py
"""

from __future__ import annotations

import os
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
DERANDOMIZE = os.environ.get("FUZZ_DERANDOMIZE", "1") != "0"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=DERANDOMIZE,
    database=None,  # no example database: a run depends on the seed alone
    deadline=None,  # the decisions function's first call pays the model loading
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

main_api = schemathesis.openapi.from_path(DOCS / "openapi.json")
customer_api = schemathesis.openapi.from_path(DOCS / "openapi-customer.json")
for _schema in (main_api, customer_api):
    _schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def roles_for(path: str) -> tuple[str, ...]:
    """The roles a route of the main (IAM) API is for; the fuzzer calls it as the first."""
    if path == "/v1/health":
        return ()
    if path == "/v1/models":
        return ("chatbot", "auditor", "privacy")
    if path.startswith(("/v1/decisions/", "/v1/disclosure")):
        return ("chatbot",)
    if path.startswith("/v1/subjects/"):
        return ("privacy",)
    if path.startswith(("/v1/reviews", "/v1/reviewer/")):
        return ("reviewer",)
    return ("auditor",)


_roles_checked: set[str] = set()


@main_api.parametrize()
@FUZZ_SETTINGS
def test_main_api(case, api):
    roles = roles_for(case.path)
    role = roles[0] if roles else None
    headers = {"Authorization": f"Bearer {api.stack.tokens[role]}"} if role else {}
    response = case.call_and_validate(base_url=api.stack.api_url, headers=headers, checks=CHECKS, timeout=60)
    # ignored_auth covers no and made-up credentials; the other roles' real ones must get a 403 as well.
    operation = f"{case.method} {case.path}"
    if role and response.status_code < 300 and operation not in _roles_checked:
        _roles_checked.add(operation)
        for other in sorted(set(api.stack.tokens) - set(roles)):
            other_headers = {"Authorization": f"Bearer {api.stack.tokens[other]}"}
            refused = case.call(base_url=api.stack.api_url, headers=other_headers, timeout=60)
            assert refused.status_code == 403, f"{operation} answered {refused.status_code} to the {other} role"


@customer_api.parametrize()
@FUZZ_SETTINGS
def test_customer_api(case, api):
    response = case.call_and_validate(base_url=api.stack.api_url, checks=CHECKS, timeout=60)
    # Only a link Candor signed opens a decision; nothing schemathesis can draw is one.
    assert response.status_code in (400, 403, 404, 405, 415, 422), response.text[:300]
