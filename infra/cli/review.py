"""`candor review ...`: the reviewer's command line, over Candor's HTTP API (docs/reviewers.md).

For operators without the reviewer page. Against AWS, requests are SigV4-signed as the
candor-reviewer role (the usual AWS configuration); on the local stack a bearer token is sent.

    candor review list --model refund-decision --adverse
    candor review show 01K...
    candor review claim 01K...
    candor review resolve 01K... --verdict overturned --new-outcome approve --reason "Photos show the damage."
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from infra.cli.client import Api, add_api_arguments


def _print(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _post(api: Api, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    response = api.request("POST", path, body=data, headers=headers)
    if response.status_code >= 400:
        api.fail(response)
    return dict(response.json())


def add_parser(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `candor review` and its commands on the top-level parser's subcommands."""
    review = areas.add_parser("review", help="the review queue: list, show, claim and resolve appeals")
    review.set_defaults(run=run)
    add_api_arguments(review, "CANDOR_REVIEWER_TOKEN")
    commands = review.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="a model's queue, oldest first (default: open cases)")
    listing.add_argument("--model", required=True)
    listing.add_argument("--status", action="append", choices=["received", "in_review", "upheld", "overturned"])
    listing.add_argument("--kind", choices=["appeal", "referral"])
    adverse = listing.add_mutually_exclusive_group()
    adverse.add_argument("--adverse", dest="adverse", action="store_const", const="true", help="only adverse ones")
    adverse.add_argument("--not-adverse", dest="adverse", action="store_const", const="false")
    listing.add_argument("--older-than-days", type=int)
    listing.add_argument("--max-age-days", type=int)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--cursor", help="next_cursor of the previous page")

    for name, text in (("show", "one case: decision, explanation, inputs, appeal, similar decisions"),
                       ("claim", "claim a case (in_review, yours until the claim expires)")):  # fmt: skip
        commands.add_parser(name, help=text).add_argument("decision_id")

    resolve = commands.add_parser("resolve", help="uphold or overturn a claimed case, with a written reason")
    resolve.add_argument("decision_id")
    resolve.add_argument("--verdict", required=True, choices=["upheld", "overturned"])
    resolve.add_argument("--reason", required=True, help="why, in words the customer will read")
    resolve.add_argument("--new-outcome", help="the outcome label, when overturned")


def run(args: argparse.Namespace) -> int:
    """Run one `candor review` command; print its JSON on stdout (errors exit with the API's message)."""
    api = Api(args.api, args.token)
    match args.command:
        case "list":
            params = {
                "model_id": args.model,
                "status": args.status,
                "kind": args.kind,
                "adverse": args.adverse,
                "older_than_days": args.older_than_days,
                "max_age_days": args.max_age_days,
                "limit": args.limit,
                "cursor": args.cursor,
            }
            _print(api.call("GET", "/v1/reviews", params))
        case "show":
            _print(api.call("GET", f"/v1/reviews/{args.decision_id}"))
        case "claim":
            _print(_post(api, f"/v1/reviews/{args.decision_id}/claim"))
        case "resolve":
            body = {"verdict": args.verdict, "reason": args.reason, "new_outcome": args.new_outcome}
            _print(_post(api, f"/v1/reviews/{args.decision_id}/resolve", body))
    return 0
