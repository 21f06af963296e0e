"""`candor audit ...`: the auditor's and privacy officer's command line, over Candor's HTTP API.

Against AWS, requests are signed with SigV4 using the usual AWS configuration (profile,
environment, instance role); against the local stack, a bearer token is sent instead
(infra/cli/client.py).

    candor audit --api http://127.0.0.1:3000 query --model refund-decision --from 2026-11-01
    candor audit --api https://abc.execute-api.eu-west-1.amazonaws.com/prod fairness \\
        --model refund-decision --attribute age_band --from 2026-11-01 --to 2026-11-30
    candor audit export --model refund-decision --from 2026-11-01 --format csv > november.csv
    candor audit report --model refund-decision --attribute age_band --attribute gender \\
        --from 2026-11-01 --to 2026-11-30 --out report.html
    candor audit monitor --model refund-decision       # latest monitoring status and the last 7 days' runs
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.cli.client import PAGE, Api, add_api_arguments

CSV_FIELDS = ["decision_id", "decided_at", "model_id", "model_version", "outcome", "score", "adverse", "notice_id",
              "locale", "method", "retention_class", "erasure_status", "content_sha256"]  # fmt: skip


def _window(args: argparse.Namespace) -> dict[str, Any]:
    return {"from": args.start, "to": args.end}


def _print(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


VERIFY_SPAN = timedelta(days=1)  # the most the verify route checks in one call (API Gateway's 29 s)
FINDINGS = ("altered", "missing", "inserted", "bad_signatures", "broken_chain", "undigested_windows")


def _verify(api: Api, args: argparse.Namespace) -> dict[str, Any]:
    """Verify [--from, --to) one day per call and report it as one span (default: the last 7 days)."""
    end = _instant(args.end) if args.end else datetime.now(UTC)
    start = _instant(args.start) if args.start else end - timedelta(days=7)
    if start >= end:
        raise SystemExit("candor audit verify: --from must be before --to")
    parts = []
    while start < end:
        stop = min(start + VERIFY_SPAN, end)
        parts.append(api.call("GET", "/v1/integrity/verify", {"from": _iso(start), "to": _iso(stop)}))
        start = stop
    merged: dict[str, Any] = {**parts[0], "span_end": parts[-1]["span_end"], "ok": all(p["ok"] for p in parts)}
    for counter in ("windows_checked", "records_checked"):
        merged[counter] = sum(p[counter] for p in parts)
    for finding in FINDINGS:
        merged[finding] = [item for p in parts for item in p[finding]]
    return merged


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _export(api: Api, args: argparse.Namespace) -> None:
    params = {"model_id": args.model, "outcome": args.outcome, "subject_id": args.subject, **_window(args)}
    writer = csv.DictWriter(sys.stdout, CSV_FIELDS, extrasaction="ignore") if args.format == "csv" else None
    if writer:
        writer.writeheader()
    count = 0
    for count, item in enumerate(api.records(params), start=1):
        if writer:
            writer.writerow(item)
        else:
            sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
        if count % PAGE == 0:  # a progress line per page, on stderr so the export stays clean
            print(f"\r{count} records exported…", end="", file=sys.stderr, flush=True)
    print(f"\r{count} records exported.", file=sys.stderr)


def _report(api: Api, args: argparse.Namespace) -> None:
    """The report page as one self-contained HTML file (its only stylesheet is inline, it loads nothing)."""
    params = {
        "model_id": args.model,
        "attributes": ",".join(args.attribute) if args.attribute else None,
        "min_group_size": args.min_group_size,
        "baseline_from": args.baseline_from,
        "baseline_to": args.baseline_to,
        **_window(args),
    }
    response = api.request("GET", "/v1/reports/page", params, headers={"Accept": "text/html"})
    if response.status_code >= 400:
        api.fail(response)
    if args.out == "-":
        sys.stdout.write(response.text)
        return
    with open(args.out, "w", encoding="utf-8") as stream:
        stream.write(response.text)
    print(f"report written to {args.out} ({len(response.content):,} bytes)", file=sys.stderr)


def _monitor(api: Api, args: argparse.Namespace) -> None:
    """The model's monitoring status as JSON on stdout; its verdict and violations, one a line, on stderr."""
    params = {"limit": args.limit, "cursor": args.cursor, **_window(args)}
    status = api.call("GET", f"/v1/monitoring/{args.model}", params)
    _print(status)
    latest = status["latest"]
    if latest is None:
        print(f"{args.model}: no monitoring report yet", file=sys.stderr)
        return
    print(f"{args.model}: {latest['status']} at {latest['evaluated_at']}", file=sys.stderr)
    for line in latest["violations"]:
        print(f"  {line}", file=sys.stderr)


def add_parser(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `candor audit` and its commands on the top-level parser's subcommands."""
    audit = areas.add_parser("audit", help="query, report on, verify, export and erase records")
    audit.set_defaults(run=run)
    add_api_arguments(audit, "CANDOR_AUDITOR_TOKEN")
    commands = audit.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, *, window: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        if window:
            sub.add_argument("--from", dest="start", help="ISO 8601 start (default: 7 days before --to)")
            sub.add_argument("--to", dest="end", help="ISO 8601 end (default: now)")
        return sub

    query = command("query", "list records (one page), newest first")
    for sub in (query, export := command("export", "stream every record of a query as JSON lines or CSV")):
        sub.add_argument("--model", help="model id")
        sub.add_argument("--outcome", help="only this outcome label")
        sub.add_argument("--subject", help="only this subject id (hashed by Candor before lookup)")
    query.add_argument("--limit", type=int, default=50)
    query.add_argument("--cursor", help="next_cursor of the previous page")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")

    get = command("get", "one record, reconstructed, with its verification", window=False)
    get.add_argument("decision_id")

    fairness = command("fairness", "selection rates, impact ratios and parity per group of a segment attribute")
    fairness.add_argument("--model", required=True)
    fairness.add_argument("--attribute", required=True)
    fairness.add_argument("--and", dest="attribute2", help="a second attribute, for intersections")
    fairness.add_argument("--min-group-size", type=int)

    reviews = command("reviews", "human review: verdicts and overturn rates per group and model version")
    reviews.add_argument("--model", required=True)
    reviews.add_argument("--attribute", required=True)
    reviews.add_argument("--and", dest="attribute2", help="a second attribute, for intersections")
    reviews.add_argument("--min-group-size", type=int)

    attributions = command("attributions", "mean |attribution| per feature, and drift against a baseline window")
    attributions.add_argument("--model", required=True)
    attributions.add_argument("--baseline-from")
    attributions.add_argument("--baseline-to")

    report = command("report", "the auditor report page (charts and tables) as a self-contained HTML file")
    report.add_argument("--model", required=True)
    report.add_argument(
        "--attribute", action="append", help="a segment attribute to report fairness on (repeat; a:b intersects)"
    )
    report.add_argument("--min-group-size", type=int)
    report.add_argument("--baseline-from")
    report.add_argument("--baseline-to")
    report.add_argument("--out", default="report.html", help="the file to write (- for stdout; default report.html)")

    command("verify", "check records against the signed integrity digests")

    monitor = command("monitor", "a model's monitor: the latest signed report and the runs of the window")
    monitor.add_argument("--model", required=True)
    monitor.add_argument("--limit", type=int, default=24, help="runs per page (newest first)")
    monitor.add_argument("--cursor", help="next_cursor of the previous page")

    erase = command("erase", "erase a subject's personal data (privacy role)", window=False)
    erase.add_argument("subject_id")


def run(args: argparse.Namespace) -> int:
    """Run one `candor audit` command against the API; print its JSON (or CSV) on stdout."""
    token = os.environ.get("CANDOR_PRIVACY_TOKEN", args.token) if args.command == "erase" else args.token
    api = Api(args.api, token)
    match args.command:
        case "query":
            params = {"model_id": args.model, "outcome": args.outcome, "subject_id": args.subject}
            _print(api.call("GET", "/v1/explanations", {**params, **_window(args), "limit": args.limit,
                                                          "cursor": args.cursor}))  # fmt: skip
        case "export":
            _export(api, args)
        case "get":
            _print(api.call("GET", f"/v1/explanations/{args.decision_id}"))
        case "fairness" | "reviews":
            params = {"model_id": args.model, "attribute": args.attribute, "attribute2": args.attribute2,
                      "min_group_size": args.min_group_size}  # fmt: skip
            _print(api.call("GET", f"/v1/reports/{args.command}", {**params, **_window(args)}))
        case "attributions":
            params = {"model_id": args.model, "baseline_from": args.baseline_from, "baseline_to": args.baseline_to}
            _print(api.call("GET", "/v1/reports/attributions", {**params, **_window(args)}))
        case "report":
            _report(api, args)
        case "verify":
            _print(_verify(api, args))
        case "monitor":
            _monitor(api, args)
        case "erase":
            _print(api.call("DELETE", f"/v1/subjects/{args.subject_id}"))
    return 0
