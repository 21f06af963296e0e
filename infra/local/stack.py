"""Candor on one machine, without AWS or Docker: moto as AWS, the template's resources, the handlers over HTTP.

    python -m infra.local.stack serve            # PORT (3000) and AWS_PORT (4566) from the environment
    python -m infra.local.stack events [--check] # (re)write events/*.json from the gateway's event builder

In tests:

    with LocalStack() as stack:                  # ephemeral ports
        requests.get(f"{stack.api_url}/v1/health")

The handlers read their settings from `os.environ` at import, so a `LocalStack` sets the environment
before it imports them, and one process should use one `LocalStack` at a time (a session fixture):
a second one gets new ports, but modules imported by the first keep their clients.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic, sleep
from types import TracebackType
from typing import Any

from functions.coldstart import forget_everything
from functions.schemas.settings import BUNDLED, BUNDLED_MODELS
from functions.stores.model_registry import locations
from infra import template as tpl
from infra.iam import aws_calls
from infra.local.aws import MotoEndpoint, local_name, provision, session_client, start_moto
from infra.local.function_logs import FunctionLogs, installed
from infra.local.gateway import TOKEN_ENV, Gateway, import_handler, local_tokens
from infra.local.instances import WorkerSettings
from infra.local.invocation import running
from infra.local.lambda_runtime import function_context
from infra.local.remote_models import ServedRegistry, served_registry
from infra.local.s3_semantics import S3Semantics
from infra.local.s3_semantics import installed as s3_semantics_installed
from infra.local.sample_events import TICKET_ES, schedule_event, write_events
from infra.local.sqs_event_source import SqsEventSource
from infra.local.stream_event_source import StreamEventSource

INSTANCES_ENV = "CANDOR_LOCAL_INSTANCES"  # `make serve INSTANCES=4`
# Several instances share this machine's cores, where each Lambda instance has its own share: a worker
# is stopped at this multiple of its function's Timeout (1: exactly Lambda's limit).
TIMEOUT_SCALE_ENV = "CANDOR_LOCAL_TIMEOUT_SCALE"
S3_SEMANTICS_HOOK = "infra.local.s3_semantics.in_worker"
AWS_CALLS_HOOK = "infra.iam.aws_calls.in_worker"  # records each worker's calls for the IAM check


class LocalStack:
    """moto + provisioned resources + the API gateway, each on 127.0.0.1, as a context manager.

    `handlers` overrides the handler of a function logical id (e.g. a dummy for tests);
    `preload=False` defers importing handlers to their first request; `quiet=False` logs each
    API request (moto's per-call lines stay off). Functions with SQS events (the explanation
    worker) are fed by a polling thread per event, like Lambda's event source mappings;
    `event_sources=False` leaves their queues unread. `models` names more registries to serve
    besides the bundled (and remote) models, as CANDOR_MODELS_URI does: comma-separated folders
    or s3:// prefixes (on the local stack, s3:// is moto's S3). The functions' S3 client answers reads of
    absent keys and listings as AWS would answer each function's role (`infra/local/s3_semantics.py`);
    `aws_semantics=False` leaves moto's answers.

    `instances` is how many instances each function may run at once (default: $CANDOR_LOCAL_INSTANCES,
    else 1). The first is in this process, as the local stack always ran (tests patch it); the
    others are worker processes started as requests overlap, each with its own cold start and module
    state, as Lambda scales out (`infra.local.instances`, docs/local-stack.md). Each worker installs the
    same local hooks as this process: the S3 semantics, plus `worker_hooks` (dotted paths of
    callables taking the template path and returning a context manager, e.g. a call recorder).
    A worker running past `timeout_scale` (default $CANDOR_LOCAL_TIMEOUT_SCALE, else 3) times its
    function's Timeout is stopped, and its request answered 502, as Lambda stops a timed-out invocation.
    """

    def __init__(
        self,
        port: int = 0,
        aws_port: int = 0,
        *,
        host: str = "127.0.0.1",
        template_path: Path | str = tpl.TEMPLATE_PATH,
        handlers: Mapping[str, str] | None = None,
        tokens: Mapping[str, str] | None = None,
        preload: bool = True,
        set_environ: bool = True,
        quiet: bool = True,
        event_sources: bool = True,
        remote_models: bool = True,
        models: str = "",
        aws_semantics: bool = True,
        instances: int | None = None,
        worker_hooks: Sequence[str] = (),
        timeout_scale: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.aws_port = aws_port
        self.template_path = template_path
        self.handlers = dict(handlers or {})
        self.tokens: dict[str, str] = dict(tokens) if tokens is not None else local_tokens()
        self.preload = preload
        self.set_environ = set_environ
        self.quiet = quiet
        self.event_sources = event_sources
        self.remote_models = remote_models
        self.models = _own_models(models)
        self.aws_semantics = aws_semantics
        self.instances = instances if instances is not None else int(os.environ.get(INSTANCES_ENV) or 1)
        self.timeout_scale = (
            timeout_scale if timeout_scale is not None else float(os.environ.get(TIMEOUT_SCALE_ENV) or 3.0)
        )
        self.worker_hooks = (*((S3_SEMANTICS_HOOK, AWS_CALLS_HOOK) if aws_semantics else ()), *worker_hooks)
        self._semantics: contextlib.ExitStack | None = None
        self.remote: ServedRegistry | None = None  # the HTTPS model endpoints, for tests to inspect or break
        self._remote_models: contextlib.ExitStack | None = None
        self._pollers: list[SqsEventSource | StreamEventSource] = []
        self.api_url = ""
        self.aws_url = ""
        self.env: dict[str, str] = {}
        self.gateway: Gateway | None = None
        self._moto: MotoEndpoint | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._saved_environ: dict[str, str | None] = {}
        self.logs_dir = tpl.REPO_ROOT / ".local-stack" / "logs"  # each function's stdout, like CloudWatch Logs
        self._logs: contextlib.AbstractContextManager[FunctionLogs] | None = None

    def start(self) -> LocalStack:
        """Start moto, provision, set the environment, import the handlers and serve the API."""
        try:
            self._moto = start_moto(self.aws_port, self.host)
            self.aws_url = self._moto.url
            if self.aws_semantics:  # before any handler builds its clients
                # Each function's calls are recorded as IAM requests when CANDOR_AWS_CALLS names a file.
                aws_calls.install()
                self._semantics = contextlib.ExitStack()
                self._semantics.enter_context(s3_semantics_installed(S3Semantics.from_template(self.template_path)))
            self._logs = installed(self.logs_dir)
            # The functions served in this process share Powertools' metric store (a class attribute), so
            # one function's flush may publish another's metrics and leave the other's flush empty. In AWS
            # each function is its own process: the "No application metrics" warning is this stack's alone.
            warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
            self.gateway = Gateway(
                tpl.routes(tpl.load_template(self.template_path)),
                tokens=self.tokens,
                handlers=self.handlers,
                logs=self._logs.__enter__(),
            )
            # Bind first: the API's URL is part of the functions' environment (CANDOR_PUBLIC_BASE_URL).
            self._server = self.gateway.make_server(self.host, self.port, quiet=self.quiet)
            self.api_url = f"http://{self.host}:{self._server.server_address[1]}"
            self.env = provision(self.aws_url, template_path=self.template_path, public_base_url=self.api_url)
            if self.remote_models:
                self._remote_models = contextlib.ExitStack()
                folder = Path(self._remote_models.enter_context(tempfile.TemporaryDirectory(prefix="candor-models-")))
                self.remote = self._remote_models.enter_context(served_registry(folder / "models"))
                self.env["CANDOR_MODELS_URI"] = str(self.remote.folder)
            self.env["CANDOR_MODELS_URI"] = ",".join([self.env["CANDOR_MODELS_URI"], *self.models])
            self.env["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon locally
            self.env.update({TOKEN_ENV[role]: token for role, token in self.tokens.items()})
            if self.set_environ:
                self._saved_environ = {key: os.environ.get(key) for key in self.env}
                os.environ.update(self.env)
            # A new deployment: no in-process function keeps clients or settings of an earlier stack.
            forget_everything()
            self.gateway.scale(self.instances, self.worker_settings())
            if self.preload:
                self.gateway.preload()
            if self.event_sources:
                self._start_event_sources()
            self._thread = threading.Thread(target=self._server.serve_forever, name="candor-gateway", daemon=True)
            self._thread.start()
        except BaseException:
            self.stop()
            raise
        return self

    def worker_settings(self) -> WorkerSettings:
        """What each worker process of a function gets: the environment, log folder and local hooks."""
        return WorkerSettings(
            environ=dict(self.env),
            template_path=str(self.template_path),
            logs_dir=str(self.logs_dir),
            hooks=self.worker_hooks,
            timeout_scale=self.timeout_scale,
        )

    def scale(self, instances: int, functions: Iterable[str] | None = None, *, warm: bool = False) -> list[str]:
        """Let `functions` (default: all) run up to `instances` instances; `warm` starts them now (provisioned
        concurrency) and returns their names. Idle workers above a lower maximum stop now."""
        if self.gateway is None:
            raise RuntimeError("the local stack is not started")
        names = list(functions) if functions is not None else list(self.gateway.instances)
        self.gateway.scale(dict.fromkeys(names, instances), self.worker_settings())
        for name in names:
            self.gateway.instances[name].stop_workers(above=instances)
        return [n for name in names for n in (self.gateway.instances[name].warm(instances) if warm else [])]

    def _start_event_sources(self) -> None:
        sqs = session_client("sqs", self.aws_url)
        for subscription in tpl.queue_subscriptions(tpl.load_template(self.template_path)):
            dotted = self.handlers.get(subscription.function, subscription.handler)
            poller = SqsEventSource(
                subscription,
                sqs.get_queue_url(QueueName=local_name(subscription.queue))["QueueUrl"],
                _imported_at_first_batch(dotted),
                sqs,
                logs=self.gateway.logs if self.gateway else None,
            )
            poller.start()
            self._pollers.append(poller)
        dynamodb, streams = session_client("dynamodb", self.aws_url), session_client("dynamodbstreams", self.aws_url)
        for stream in tpl.stream_subscriptions(tpl.load_template(self.template_path)):
            table = dynamodb.describe_table(TableName=local_name(stream.table))["Table"]
            failures = local_name(stream.failure_destination) if stream.failure_destination else None
            stream_poller = StreamEventSource(
                stream,
                table["LatestStreamArn"],
                _imported_at_first_batch(self.handlers.get(stream.function, stream.handler)),
                streams,
                sqs=sqs,
                failure_queue_url=sqs.get_queue_url(QueueName=failures)["QueueUrl"] if failures else None,
                logs=self.gateway.logs if self.gateway else None,
            )
            stream_poller.start()
            self._pollers.append(stream_poller)

    def drain(self, timeout_s: float = 120.0) -> None:
        """Wait until the archive copier has copied every pending record (the pending table is empty).

        A decision is durable in DynamoDB when it is answered; its S3 objects follow from the
        pending table's stream (`ArchiveCopyFunction`), within a poll or two here. Tests and tools
        that look at the buckets right after a decision call this first. Raises TimeoutError
        when records stay pending (a copier failing on them, or no event sources).
        """
        table = self.env.get("CANDOR_PENDING_TABLE")
        if not table:
            return
        dynamodb = session_client("dynamodb", self.aws_url)  # the administrator's view, not a function's
        deadline = monotonic() + timeout_s
        while True:
            left = dynamodb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]
            if not left:
                return
            if monotonic() > deadline:
                raise TimeoutError(f"{left} record(s) still await their archive copy after {timeout_s:.0f} s")
            sleep(0.1)

    def run_scheduled(self, function: str, time: datetime | None = None) -> Any:
        """Invoke a scheduled function now, as its hourly EventBridge rule would at `time` (default: now).

        Locally nothing fires on a schedule: tests and the demo run the integrity and monitoring
        jobs on demand, in this process, with the function's log and role (its AWS calls are its own).
        """
        spec = tpl.functions(tpl.load_template(self.template_path))[function]
        handler = import_handler(self.handlers.get(function, spec.handler))
        rule = f"candor-{function.removesuffix('Function').lower()}-hourly"
        event = schedule_event(rule, time or datetime.now(UTC))
        logs = self.gateway.logs.capture(function) if self.gateway and self.gateway.logs else contextlib.nullcontext()
        with logs, running(function):
            return handler(event, function_context(function, spec.memory_mb, spec.timeout_s))

    def remote_urls(self) -> list[str]:
        """The HTTPS endpoints of the remote models (none when `remote_models=False`)."""
        return [server.url() for server in self.remote.servers.values()] if self.remote else []

    def stop(self) -> None:
        """Stop serving and polling, stop moto and restore the environment."""
        for poller in self._pollers:
            poller.stop()
        self._pollers = []
        if self._remote_models is not None:
            self._remote_models.close()
            self._remote_models, self.remote = None, None
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
            self._server, self._thread = None, None
        if self.gateway is not None:
            self.gateway.stop_workers()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._logs is not None:
            self._logs.__exit__(None, None, None)
            self._logs = None
        if self._semantics is not None:
            self._semantics.close()
            self._semantics = None
        for key, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ = {}
        forget_everything()  # what this stack's functions cached points at its stopped moto

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _own_models(uri: str) -> list[str]:
    """The user's registries in `uri`, folders made absolute; the bundled models are always served."""
    return [
        location if location.startswith("s3://") else str(Path(location).resolve())
        for location in locations(uri)
        if location != BUNDLED and Path(location).resolve() != BUNDLED_MODELS
    ]


def _imported_at_first_batch(dotted: str) -> Callable[[dict[str, Any], Any], Any]:
    """The handler, imported when the first batch arrives (the environment is set by then), then cached by importlib."""

    def invoke(event: dict[str, Any], context: Any) -> Any:
        return import_handler(dotted)(event, context)

    return invoke


# --------------------------------------------------------------------------- serve


def _banner(stack: LocalStack) -> str:
    api, aws = stack.api_url, stack.aws_url
    chatbot = stack.tokens["chatbot"]
    body = json.dumps(TICKET_ES, ensure_ascii=False)
    lines = [
        f"Candor API   {api}   (routes under /v1)",
        f"AWS (moto)   {aws}   region {stack.env['AWS_DEFAULT_REGION']}",
        "",
        "Local bearer tokens (local stack only):",
        *(f"  {role:8} {token}   (env {TOKEN_ENV[role]})" for role, token in stack.tokens.items()),
        "",
        "Try:",
        f"  curl -s {api}/v1/health",
        f"  curl -s -H 'Authorization: Bearer {chatbot}' {api}/v1/models",
        f"  curl -s -H 'Authorization: Bearer {chatbot}' '{api}/v1/disclosure?locale=es-ES&jurisdiction=EU'",
        f"  curl -s -X POST -H 'Authorization: Bearer {chatbot}' -H 'Content-Type: application/json' \\",
        f"       -d '{body}' {api}/v1/decisions/ticket-router",
        "  (the same with router-remote, refund-remote or refund-deferred: models behind HTTPS endpoints)",
        "",
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1",
        f"  aws --endpoint-url {aws} dynamodb list-tables",
        f"  aws --endpoint-url {aws} dynamodb scan --table-name {stack.env['CANDOR_RECORDS_TABLE']}",
        f"  aws --endpoint-url {aws} s3 ls s3://{stack.env['CANDOR_ARCHIVE_BUCKET']} --recursive",
        f"  candor audit --api {api} --token {stack.tokens['auditor']} query --model ticket-router",
        "",
        *([f"Remote model endpoints (HTTPS): {', '.join(stack.remote_urls())}"] if stack.remote else []),
        *([f"Your models (CANDOR_MODELS_URI): {', '.join(stack.models)}"] if stack.models else []),
        f"Function logs (Powertools logs and metrics, as CloudWatch would get them): {stack.logs_dir}/",
        f"Instances per function: up to {stack.instances} (make serve INSTANCES=n; docs/local-stack.md)",
        "Ctrl-C stops.",
    ]
    return "\n".join(lines)


def serve() -> int:
    """Serve on 127.0.0.1:$PORT (API) and 127.0.0.1:$AWS_PORT (moto) until interrupted."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("infra.local.gateway").setLevel(logging.INFO)
    port = int(os.environ.get("PORT", "3000"))
    aws_port = int(os.environ.get("AWS_PORT", "4566"))
    models = os.environ.get("CANDOR_MODELS_URI", "")
    with LocalStack(port=port, aws_port=aws_port, quiet=False, models=models) as stack:
        print(_banner(stack), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.stack", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the API and moto until Ctrl-C (PORT, AWS_PORT)")
    events = commands.add_parser("events", help="write events/*.json")
    events.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve()
    stale = write_events(check=args.check)
    for name in stale:
        print(f"{'stale' if args.check else 'wrote'} events/{name}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
