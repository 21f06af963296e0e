"""`candor smoke ...`: after a deployment, walk one synthetic decision through every API (docs/deploy.md).

    candor smoke --api https://abc.execute-api.eu-west-1.amazonaws.com/prod \\
        --customer-api https://def.execute-api.eu-west-1.amazonaws.com/prod \\
        --api-key "$CANDOR_API_KEY" --profile chatbot=candor-chatbot --profile auditor=candor-auditor
    candor smoke --api http://127.0.0.1:3000 --token chatbot=local-chatbot-token --token auditor=local-auditor-token

Each step prints one line, `ok` or `FAIL`, with what it checked; the exit code is 1 if any
step failed. Against AWS each role signs with SigV4 under its own credentials (`--profile
ROLE=NAME`, env CANDOR_<ROLE>_PROFILE; else the default AWS configuration); against the local
stack each role sends its bearer token (`--token ROLE=TOKEN`, env CANDOR_<ROLE>_TOKEN).

The decision is synthetic (subject `candor-smoke-<random>`, a made-up message), but the
records are write-once: it stays in the audit trail. `--erase` erases its subject afterwards
as the privacy role (the sealed envelope stays, as for any erasure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from functions.domain.seal import canonical_json, sha256_hex
from infra.cli.client import Api

ROLES = ("chatbot", "auditor", "privacy", "reviewer")  # reviewer: accepted (local tokens), not used by a step
MESSAGE = "Smoke test: I was charged twice for my order this month"
DESCRIPTION = """Check a deployment end to end with one synthetic decision: health, models, disclosure,
a decision and its byte-identical replay, the auditor's verified record, the customer's page
and its JSON, and the integrity check of the current window. The decision stays in the
write-once records (--erase erases its subject's personal part afterwards)."""


class StepFailed(Exception):
    """A check did not hold; the message says what was found."""


@dataclass
class Smoke:
    apis: dict[str, Api]
    base: Api  # unauthenticated: health and the customer's links
    model: str
    inputs: dict[str, Any] | None
    customer_api: str | None
    erase: bool
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    failures: int = 0
    steps: int = 0
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return f"candor-smoke-{self.run_id}"

    def step(self, name: str, check: Callable[[], str], *needs: str) -> None:
        self.steps += 1
        missing = [need for need in needs if need not in self.state]
        try:
            if missing:
                raise StepFailed(f"not run: needs the {', '.join(missing)} of an earlier step")
            detail = check()
        except (StepFailed, requests.RequestException, SystemExit, KeyError, ValueError) as error:
            self.failures += 1
            print(f"FAIL {name}: {_reason(error)}", flush=True)
        else:
            print(f"ok   {name}: {detail}", flush=True)

    def role(self, name: str) -> Api:
        return self.apis[name]

    # ------------------------------------------------------------------ steps
    def health(self) -> str:
        response = self.base.http.get(self.base.url("/v1/health"), timeout=60)
        body = _json(response, 200)
        if body.get("status") != "ok":
            raise StepFailed(f"status {body.get('status')!r}")
        return "GET /v1/health 200 {status: ok}"

    def models(self) -> str:
        body = _json(self.role("chatbot").request("GET", "/v1/models"), 200)
        found = {m["id"]: m for m in body["models"]}
        if self.model not in found:
            raise StepFailed(f"{self.model} is not registered (models: {', '.join(sorted(found)) or 'none'})")
        model = found[self.model]
        self.state["model"] = model
        method = model["explanation_method"]
        return f"GET /v1/models 200, {len(found)} models, {self.model} {model['version']} ({method})"

    def disclosure(self) -> str:
        params = {"locale": "en", "jurisdiction": "EU"}
        body = _json(self.role("chatbot").request("GET", "/v1/disclosure", params), 200)
        if body.get("ai_system") is not True or not body.get("notice"):
            raise StepFailed("the notice is missing or does not say ai_system: true")
        return f"GET /v1/disclosure 200, notice {body['notice_id']}"

    def decision(self) -> str:
        inputs = self.inputs if self.inputs is not None else _text_inputs(self.state["model"])
        request = {
            "request_id": f"candor-smoke-{self.run_id}",
            "subject_id": self.subject,
            "locale": "en",
            "jurisdiction": "EU",
            "inputs": inputs,
        }
        body = json.dumps(request).encode()
        self.state["body"] = body
        response = self._decide(body)
        answer = _json(response, 200)
        for key in ("decision_id", "outcome", "explanation", "disclosure", "links"):
            if key not in answer:
                raise StepFailed(f"the answer has no {key}")
        self.state["decision"], self.state["raw"] = answer, response.content
        return (
            f"POST /v1/decisions/{self.model} 200, decision {answer['decision_id']} "
            f"({answer['outcome']['label']}, explanation {answer['explanation']['status']}, "
            f"notice {answer['disclosure']['notice_id']}), request_id {request['request_id']}"
        )

    def replay(self) -> str:
        response = self._decide(self.state["body"])
        if response.status_code != 200:
            raise StepFailed(f"{response.status_code} {response.text[:200]}")
        if response.content != self.state["raw"]:
            raise StepFailed("the replay's body differs from the first answer")
        return f"same request_id again: 200, byte-identical ({len(response.content)} bytes)"

    def audit_record(self) -> str:
        decision_id = self.state["decision"]["decision_id"]
        body = _json(self.role("auditor").request("GET", f"/v1/explanations/{decision_id}"), 200)
        record = body["record"]
        envelope = record["envelope"]
        if body.get("verified") is not True:
            raise StepFailed(f"verified is {body.get('verified')!r}")
        if envelope.get("request_id") != f"candor-smoke-{self.run_id}":
            raise StepFailed(f"the record's request_id is {envelope.get('request_id')!r}")
        recomputed = sha256_hex(canonical_json(envelope))
        if recomputed != record["content_sha256"]:
            raise StepFailed(f"content_sha256 {record['content_sha256']} but the envelope hashes to {recomputed}")
        return f"GET /v1/explanations/{decision_id} 200, verified: true, envelope re-hashed here: {recomputed[:16]}…"

    def customer_page(self) -> str:
        link = self.state["decision"]["links"]["customer_view"]
        if self.customer_api and not link.startswith(self.customer_api.rstrip("/") + "/"):
            raise StepFailed(f"links.customer_view does not start with {self.customer_api}: {_redact(link)}")
        response = self.base.http.get(link, timeout=60)
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("text/html"):
            raise StepFailed(f"{response.status_code} {response.headers.get('Content-Type')}")
        if self.state["decision"]["decision_id"] not in response.text:
            raise StepFailed("the page does not name the decision")
        return f"GET {_redact(link)} without credentials 200 text/html"

    def customer_json(self) -> str:
        link = self.state["decision"]["links"]["customer_view"]
        scheme, host, path, query, _ = urlsplit(link)
        url = urlunsplit((scheme, host, path.removesuffix("/view"), query, ""))
        body = _json(self.base.http.get(url, timeout=60), 200)
        if body.get("decision_id") != self.state["decision"]["decision_id"]:
            raise StepFailed(f"decision_id {body.get('decision_id')!r}")
        return f"GET {_redact(url)} without credentials 200 JSON, status {body.get('status')}"

    def integrity(self) -> str:
        decided = datetime.fromisoformat(self.state["decision"]["decided_at"].replace("Z", "+00:00"))
        start = decided.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = _json(self.role("auditor").request("GET", "/v1/integrity/verify", {"from": start}), 200)
        if body.get("ok") is not True:
            caught = {k: len(body.get(k) or []) for k in ("altered", "missing", "inserted", "bad_signatures",
                                                          "broken_chain")}  # fmt: skip
            raise StepFailed(f"ok: false, {caught}")
        return (
            f"GET /v1/integrity/verify?from={start} 200, ok: true, {body['windows_checked']} windows checked, "
            f"{len(body['undigested_windows'])} not digested yet (fine for the current window)"
        )

    def erasure(self) -> str:
        body = _json(self.role("privacy").request("DELETE", f"/v1/subjects/{self.subject}"), 200)
        ids = {r["decision_id"]: r["action"] for r in body.get("records", [])}
        decision_id = self.state["decision"]["decision_id"]
        if decision_id not in ids:
            raise StepFailed(f"the receipt does not list {decision_id}")
        return f"DELETE /v1/subjects/{self.subject} 200, {decision_id} {ids[decision_id]}"

    def _decide(self, body: bytes) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        return self.role("chatbot").request("POST", f"/v1/decisions/{self.model}", body=body, headers=headers)

    def run(self) -> int:
        self.step("health", self.health)
        self.step("models", self.models)
        self.step("disclosure", self.disclosure)
        self.step("decision", self.decision, *(("model",) if self.inputs is None else ()))
        self.step("replay", self.replay, "decision")
        self.step("audit record", self.audit_record, "decision")
        self.step("customer page", self.customer_page, "decision")
        self.step("customer json", self.customer_json, "decision")
        self.step("integrity", self.integrity, "decision")
        if self.erase:
            self.step("erase", self.erasure, "decision")
        verdict = "FAIL" if self.failures else "ok"
        print(f"{verdict}   smoke: {self.failures} of {self.steps} steps failed; subject {self.subject}")
        return 1 if self.failures else 0


def _json(response: requests.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        try:
            error = response.json()["error"]
            text = f"{error.get('code')}: {error.get('message')}"
        except (ValueError, KeyError, TypeError, AttributeError):  # not Candor's envelope: API Gateway's own
            text = response.text[:200].strip()
        raise StepFailed(f"{response.request.method} {urlsplit(response.url).path} {response.status_code} {text}")
    return dict(response.json())


def _text_inputs(model: dict[str, Any]) -> dict[str, Any]:
    features = model["features"]
    if len(features) == 1 and features[0].get("type") == "text":
        return {features[0]["name"]: MESSAGE}
    raise StepFailed(f"{model['id']} does not take one text input: give its inputs with --inputs '{{...}}'")


def _redact(url: str) -> str:
    """A customer link without its token (it opens the decision for 90 days)."""
    return url.split("?", 1)[0] + ("?token=…" if "?" in url else "")


def _reason(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return f"the answer has no {error.args[0]!r}"
    return str(error) or type(error).__name__


def _pairs(option: str) -> Callable[[str], tuple[str, str]]:
    def parse(text: str) -> tuple[str, str]:
        role, sep, value = text.partition("=")
        if not sep or role not in ROLES or not value:
            raise argparse.ArgumentTypeError(f"{option} takes ROLE=VALUE with ROLE one of {', '.join(ROLES)}")
        return role, value

    return parse


def add_parser(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `candor smoke` on the top-level parser's subcommands."""
    smoke = areas.add_parser("smoke", help="check a deployment with one synthetic decision", description=DESCRIPTION)
    smoke.set_defaults(run=run)
    smoke.add_argument("--api", default=os.environ.get("CANDOR_API_URL"), help="the API's base URL (the ApiUrl "
                       "output; env CANDOR_API_URL)")  # fmt: skip
    smoke.add_argument("--customer-api", help="the customers' base URL (CustomerApiUrl, or PublicBaseUrl): "
                       "links.customer_view must start with it")  # fmt: skip
    smoke.add_argument("--model", default="ticket-router", help="the model to decide with (default ticket-router)")
    smoke.add_argument("--inputs", type=json.loads, help="the decision's inputs as JSON (default: a made-up "
                       "message, for models with one text input)")  # fmt: skip
    smoke.add_argument("--api-key", default=os.environ.get("CANDOR_API_KEY"), help="the usage plan's API key, "
                       "sent as x-api-key (env CANDOR_API_KEY)")  # fmt: skip
    smoke.add_argument("--token", action="append", type=_pairs("--token"), default=[], metavar="ROLE=TOKEN",
                       help="local stack: a role's bearer token (env CANDOR_CHATBOT_TOKEN, CANDOR_AUDITOR_TOKEN, "
                       "CANDOR_PRIVACY_TOKEN); a role without one signs with SigV4")  # fmt: skip
    smoke.add_argument("--profile", action="append", type=_pairs("--profile"), default=[], metavar="ROLE=PROFILE",
                       help="AWS: the named profile a role signs as (env CANDOR_<ROLE>_PROFILE; default: the "
                       "default AWS configuration)")  # fmt: skip
    smoke.add_argument("--erase", action="store_true", help="erase the smoke subject afterwards (privacy role)")


def run(args: argparse.Namespace) -> int:
    if not args.api:
        print("candor smoke: give --api (the stack's ApiUrl output) or set CANDOR_API_URL", file=sys.stderr)
        return 2
    tokens, profiles = dict(args.token), dict(args.profile)
    apis = {}
    for role in ROLES:
        token = tokens.get(role) or os.environ.get(f"CANDOR_{role.upper()}_TOKEN")
        profile = profiles.get(role) or os.environ.get(f"CANDOR_{role.upper()}_PROFILE")
        api_key = args.api_key if role == "chatbot" else None
        apis[role] = Api(args.api, token, api_key=api_key, profile=profile)
    smoke = Smoke(apis, Api(args.api, None), args.model, args.inputs, args.customer_api, args.erase)
    return smoke.run()
