"""`candor smoke` against the local stack: every step ok, and a wrong token fails the run."""

from __future__ import annotations

import re

import pytest

from infra.cli import main
from tests.e2e.conftest import Client

STEPS = ["health", "models", "disclosure", "decision", "replay", "audit record", "customer page", "customer json",
         "integrity"]  # fmt: skip


def _tokens(api: Client, **override: str) -> list[str]:
    tokens = {**api.stack.tokens, **override}
    return [arg for role, token in tokens.items() for arg in ("--token", f"{role}={token}")]


def _lines(out: str) -> dict[str, str]:
    """step name -> its verdict (`ok` or `FAIL`); in-process handlers' EMF metrics share stdout here."""
    verdicts = {}
    for line in out.splitlines():
        verdict, _, rest = line.partition(" ")
        if verdict in ("ok", "FAIL"):
            verdicts[rest.strip().split(":")[0]] = verdict
    return verdicts


def test_smoke_passes_against_the_local_stack_and_erases_its_subject(
    api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    url = api.stack.api_url
    code = main(["smoke", "--api", url, "--customer-api", url, *_tokens(api), "--erase"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert _lines(out) == {**dict.fromkeys([*STEPS, "erase"], "ok"), "smoke": "ok"}
    assert "byte-identical" in out and "verified: true" in out and "200 text/html" in out
    assert "token=…" in out and "?token=ey" not in out  # customer links are printed without their token
    # The last smoke line names the subject (the stream poller's EMF lines may follow it on stdout).
    subject = re.findall(r"; subject (candor-smoke-[0-9a-f]{12})", out)[-1]
    erased = api.call("GET", "/v1/explanations", role="auditor", params={"subject_id": subject}).json()["items"]
    assert [item["erasure_status"] for item in erased] == ["erased"]


def test_a_wrong_chatbot_token_fails_the_smoke(api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", "--api", api.stack.api_url, *_tokens(api, chatbot="not-a-token")])
    out = capsys.readouterr().out
    assert code == 1
    verdicts = _lines(out)
    assert verdicts["health"] == "ok"  # no credentials needed
    assert verdicts["models"] == verdicts["decision"] == verdicts["smoke"] == "FAIL"
    assert "401 unauthenticated" in out


def test_a_customer_link_outside_the_customer_api_fails(api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    url = api.stack.api_url
    code = main(["smoke", "--api", url, "--customer-api", "https://candor.example.com", *_tokens(api)])
    out = capsys.readouterr().out
    assert code == 1
    assert _lines(out)["customer page"] == "FAIL" and "does not start with https://candor.example.com" in out
