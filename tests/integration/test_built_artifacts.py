"""Each function runs from its own built artifact (issue 14), not from this virtualenv or repository.

Every function of template.yaml is built as `sam build` builds it (`infra.artifacts`: the
Makefile's `build-<LogicalId>` for the zips, the Dockerfile's file tree for the image functions),
then its handler is imported in a fresh `python -I -S -B` whose path is that artifact, the standard
library and, for a zip, only the AWS SDK Lambda's runtime provides (`infra.artifacts.invoke`), and
called against moto with each sample event of events/ that reaches it: API events by route (the
local gateway's matching), the SQS job by queue, the schedule's event to the scheduled integrity
job. A missing module or data file, a dev-only library, or a write into the artifact fails the test;
statuses are those tests/integration/test_events.py expects in-process.
Each artifact's size goes to bench-results/artifact-sizes.json.

The first run builds (about two minutes for the image's dependencies on an empty pip cache);
later runs reuse the build cache (`~/.cache/candor/artifacts`) while their inputs are unchanged.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from infra import artifacts
from infra import template as tpl
from infra.artifacts import Artifact, invoke
from infra.artifacts.distributions import (
    HEAVY_DISTRIBUTIONS,
    RUNTIME_LOCK,
    dev_only_distributions,
    import_names,
    locked_names,
)
from infra.artifacts.sizes import IMAGE_LIMIT_BYTES, ZIP_LIMIT_BYTES, sizes_report, write_sizes
from infra.local.aws import MotoEndpoint, local_name, provision, reset_moto, start_moto
from infra.local.gateway import Gateway
from infra.local.sample_events import FORGED_TOKEN, SAMPLE_DECISION
from tests.integration.test_events import EXPECTED

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
SIZES = REPO / "bench-results" / "artifact-sizes.json"
PUBLIC_BASE_URL = "https://candor.test"
FUNCTIONS = sorted(tpl.functions())

# Raised (and logged, even when the handler answers) when an artifact lacks a module or a data file.
MISSING_SOMETHING = ("ImportError", "ModuleNotFoundError", "FileNotFoundError")

# The sample job names a decision that is not stored: reported failed, for SQS to deliver again (as in-process).
JOB_ERROR = "RecordNotFound"


def _load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def events_by_function() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every sample event, given to the function that would receive it in AWS."""
    gateway = Gateway(tpl.routes(), tokens={})
    queues = {local_name(subscription.queue): subscription.function for subscription in tpl.queue_subscriptions()}
    streams = {local_name(stream.table): stream.function for stream in tpl.stream_subscriptions()}
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {function: [] for function in FUNCTIONS}
    for path in sorted(EVENTS.glob("*.json")):
        event = _load(path.name)
        if "httpMethod" in event:
            authorization = any(header.lower() == "authorization" for header in event.get("headers") or {})
            route, _, _ = gateway.match(event["httpMethod"], event["path"], authorization=authorization)
            assert route is not None, f"{path.name}: no route of template.yaml serves it"
            found[route.function].append((path.name, event))
        elif "Records" in event and event["Records"][0].get("eventSource") == "aws:dynamodb":
            table = event["Records"][0]["eventSourceARN"].split(":table/", 1)[1].split("/", 1)[0]
            found[streams[table]].append((path.name, event))
        elif "Records" in event:
            queue = event["Records"][0]["eventSourceARN"].rsplit(":", 1)[1]
            found[queues[queue]].append((path.name, event))
        else:  # a schedule's event: to the scheduled function its rule is named after (candor-<name>-hourly)
            rule = event["resources"][0].rsplit("/", 1)[1]
            for function, resource in tpl.template()["Resources"].items():
                kinds = {e.get("Type") for e in ((resource.get("Properties") or {}).get("Events") or {}).values()}
                named = rule == f"candor-{function.removesuffix('Function').lower()}-hourly"
                if resource.get("Type") == "AWS::Serverless::Function" and "Schedule" in kinds and named:
                    found[function].append((path.name, event))
    return found


EVENTS_BY_FUNCTION = events_by_function()
_BUILT: dict[str, Artifact] = {}


def built(function: str) -> Artifact:
    """The function's artifact, built once per session (and reused from the build cache across sessions)."""
    if function not in _BUILT:
        _BUILT[function] = artifacts.build(function)
    return _BUILT[function]


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEndpoint]:
    endpoint = start_moto()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def aws(moto: MotoEndpoint, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh account at the moto endpoint with the template's resources; the functions' environment."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    reset_moto(moto.url)
    return provision(moto.url, public_base_url=PUBLIC_BASE_URL)


@pytest.fixture(scope="module")
def dev_only() -> frozenset[str]:
    return dev_only_distributions()


def forbidden_imports(distributions: frozenset[str]) -> set[str]:
    """Import names of these distributions (as this venv installs them), but none a runtime library also provides."""
    runtime = import_names(locked_names(RUNTIME_LOCK))
    return set(import_names(distributions)) - runtime - set(sys.stdlib_module_names)


def record_size(artifact: Artifact) -> None:
    """Merge this function's size into bench-results/artifact-sizes.json."""
    sizes = json.loads(SIZES.read_text(encoding="utf-8")) if SIZES.exists() else {}
    sizes.update(sizes_report([artifact]))
    write_sizes(sizes, SIZES)


def assert_ran_from_its_artifact(artifact: Artifact, outcome: invoke.Outcome) -> None:
    report = outcome.report
    assert report, f"the bootstrap wrote no report: {outcome.explain()}"
    if report["init_error"]:
        pytest.fail(f"{artifact.function}: importing {artifact.handler} failed:\n{report['init_error']['traceback']}")
    if report["entrypoint_error"]:
        pytest.fail(f"{artifact.function}: ENTRYPOINT's module failed:\n{report['entrypoint_error']['traceback']}")
    assert outcome.returncode == 0, outcome.explain()
    assert report["python"][:2] == [int(part) for part in artifact.python.split(".")]
    assert report["flags"] == {"isolated": 1, "no_site": 1}
    # The path: the artifact's code, the standard library (no site-packages), what the runtime adds.
    assert report["sys_path"] == [str(artifact.code), *report["stdlib"], *map(str, artifact.runtime_paths)]
    assert not [path for path in report["stdlib"] if "site-packages" in path]
    assert report["modules_outside"] == []
    assert report["findable_forbidden"] == [], "dev-only or heavy libraries importable from the artifact"
    assert outcome.changed_files == [], "the handler wrote into its artifact (read-only in Lambda)"
    missing = [r for r in outcome.logged_exceptions() if r.get("exception_name") in MISSING_SOMETHING]
    assert not missing, "\n".join(str(r.get("exception", r))[-3000:] for r in missing)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_runs_from_its_own_artifact(function: str, aws: dict[str, str], dev_only: frozenset[str]):
    artifact = built(function)
    record_size(artifact)
    size = artifact.size()
    assert not artifact.distributions & dev_only, "dev-only libraries in the artifact"
    forbidden = dev_only
    if artifact.kind == "zip":
        assert size.bytes < ZIP_LIMIT_BYTES, f"{size.mb:.0f} MB unzipped: over Lambda's 250 MB"
        assert not artifact.distributions & HEAVY_DISTRIBUTIONS, "a small zip carries the model libraries"
        forbidden |= HEAVY_DISTRIBUTIONS
    else:
        assert size.bytes < IMAGE_LIMIT_BYTES

    events = EVENTS_BY_FUNCTION[function]
    assert events, f"no sample event reaches {function}"
    outcome = invoke.run(artifact, events, aws, forbidden_imports=forbidden_imports(forbidden))
    assert_ran_from_its_artifact(artifact, outcome)

    for name, event in events:
        entry = outcome.invocations[name]
        if "error" in entry:
            pytest.fail(f"{function} raised on {name}:\n{entry['error']['traceback']}")
        response = entry["response"]
        if name in EXPECTED:
            module, status = EXPECTED[name]
            assert artifact.handler == f"functions.handlers.{module}.lambda_handler"
            logged = "\n".join(str(r.get("exception", ""))[-3000:] for r in outcome.logged_exceptions())
            assert response["statusCode"] == status, f"{name}: {response['body'][:2000]}\n{logged}"
        elif name == "explanation-job.json":
            assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
            failures = [r for r in outcome.log_records() if r.get("message", "").startswith("explanation job failed")]
            assert [r["error"] for r in failures] == [JOB_ERROR], failures
        elif name == "review-notification.json":  # no webhook configured in this account: fails, to be retried
            assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
            failed = [r for r in outcome.log_records() if r.get("message", "").startswith("review notification not")]
            assert len(failed) == 1, outcome.log_records()
        elif name == "records-stream.json":
            assert response == {"batchItemFailures": []}  # counted into the rollups table
        elif name == "pending-records-stream.json":
            assert response == {"batchItemFailures": []}  # nothing pending in a fresh account: already copied
        elif name == "integrity-schedule.json":
            assert len(response["windows_written"]) == 1
            assert response["caught_up"] is True
        elif name == "monitoring-schedule.json":  # the bundled refund model's monitor, over no records yet
            (report,) = response["reports"]
            assert report["model_id"] == "refund-decision"
            assert (report["status"], report["violations"]) == ("not_enough_data", [])
        else:
            pytest.fail(f"no expectation for {name}: add it to tests/integration/test_events.py")


def _with(event: Mapping[str, Any], replacements: Mapping[str, str]) -> dict[str, Any]:
    text = json.dumps(event)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return json.loads(text)


def test_a_decision_from_the_image_is_read_by_the_zips(aws: dict[str, str]):
    """State across artifacts: the image stores a decision; the audit zip reads it, the customer zip shows it."""
    decisions = invoke.run(built("DecisionsFunction"), [("decide", _load("decision-refund.json"))], aws)
    assert_ran_from_its_artifact(built("DecisionsFunction"), decisions)
    answer = json.loads(decisions.invocations["decide"]["response"]["body"])
    decision_id = answer["decision_id"]
    token = parse_qs(urlsplit(answer["links"]["customer_view"]).query)["token"][0]
    real = {SAMPLE_DECISION: decision_id, FORGED_TOKEN: token}

    audit = invoke.run(built("AuditFunction"), [("get", _with(_load("audit-get.json"), real))], aws)
    assert_ran_from_its_artifact(built("AuditFunction"), audit)
    response = audit.invocations["get"]["response"]
    assert response["statusCode"] == 200, response["body"][:2000]
    assert json.loads(response["body"])["decision_id"] == decision_id

    as_json = _with(_load("customer-explanation-no-token.json"), real)
    as_json["queryStringParameters"] = {"token": token}
    as_json["multiValueQueryStringParameters"] = {"token": [token]}
    customer = invoke.run(
        built("CustomerFunction"),
        [
            ("page", _with(_load("customer-view-bad-token.json"), real)),
            ("json", as_json),
            ("appeal", _with(_load("customer-appeal-bad-token.json"), real)),
        ],
        aws,
    )
    assert_ran_from_its_artifact(built("CustomerFunction"), customer)
    page, view, appeal = (customer.invocations[name]["response"] for name in ("page", "json", "appeal"))
    assert page["statusCode"] == 200, page["body"][:2000]
    assert page["multiValueHeaders"]["Content-Type"][0].startswith("text/html")
    assert "<h1>Why this answer</h1>" in page["body"]  # the refund decision's locale is en
    assert view["statusCode"] == 200, view["body"][:2000]
    assert json.loads(view["body"])["decision_id"] == decision_id
    assert appeal["statusCode"] == 201, appeal["body"][:2000]

    # The reviewer zip claims the appeal and upholds it: a sealed review in the archive.
    review = invoke.run(
        built("ReviewFunction"),
        [("claim", _with(_load("review-claim.json"), real)), ("resolve", _with(_load("review-resolve.json"), real))],
        aws,
    )
    assert_ran_from_its_artifact(built("ReviewFunction"), review)
    claim, resolve = (review.invocations[name]["response"] for name in ("claim", "resolve"))
    assert claim["statusCode"] == 200, claim["body"][:2000]
    assert resolve["statusCode"] == 201, resolve["body"][:2000]
    assert json.loads(resolve["body"])["review"]["decision_id"] == decision_id


EXACT_DOCKERFILE = "infra/decisions-exact.Dockerfile"


def test_the_exact_image_answers_exact_models_without_shap(aws: dict[str, str], dev_only: frozenset[str]):
    """The decisions function built from the exact image (no `black-box` extra) explains tree and linear models."""
    from infra.bench.cold_start import black_box_only_modules

    artifact = artifacts.build("DecisionsFunction", dockerfile=EXACT_DOCKERFILE)
    sizes = json.loads(SIZES.read_text(encoding="utf-8")) if SIZES.exists() else {}
    sizes[f"DecisionsFunction ({EXACT_DOCKERFILE})"] = sizes_report([artifact])["DecisionsFunction"]
    write_sizes(sizes, SIZES)
    assert not artifact.distributions & {"shap", "numba", "llvmlite", "pandas", "scikit-learn"}
    assert {"lightgbm", "numpy"} <= artifact.distributions
    events = [(name, _load(name)) for name in ("decision-refund.json", "decision-ticket-router-en.json")]
    # Nothing of shap's stack may be importable from it, nor be needed: both exact models answer 200.
    forbidden = forbidden_imports(dev_only) | black_box_only_modules()
    outcome = invoke.run(artifact, events, aws, forbidden_imports=forbidden)
    assert_ran_from_its_artifact(artifact, outcome)
    for name, _ in events:
        response = outcome.invocations[name]["response"]
        assert response["statusCode"] == 200, response["body"][:2000]
        assert json.loads(response["body"])["explanation"]["exact"] is True
