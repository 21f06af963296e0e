"""Candor's HTTP API as the command line calls it: shared by `candor audit` and `candor smoke`.

Against AWS, requests are signed with SigV4 (service `execute-api`) using the usual AWS
configuration (a named profile, the environment, an instance role) and carry the usage
plan's API key when one is given; against the local stack, a bearer token is sent instead.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn
from urllib.parse import urlencode, urlparse

import requests

PAGE = 200


def add_api_arguments(parser: argparse.ArgumentParser, token_env: str) -> None:
    """`--api` and `--token` of a command family; the token defaults to `token_env` (its role's local token)."""
    parser.add_argument(
        "--api",
        default=os.environ.get("CANDOR_API_URL", "http://127.0.0.1:3000"),
        help="the API's base URL (env CANDOR_API_URL; default: the local stack)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(token_env),
        help=f"bearer token for the local stack (env {token_env}); without one, requests are SigV4-signed",
    )


def api_region(url: str) -> str | None:
    """`https://abc.execute-api.eu-west-1.amazonaws.com/prod/...` -> `eu-west-1`; None for other hosts."""
    parts = (urlparse(url).hostname or "").split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "execute-api" else None


class Api:
    """A session on Candor's API: SigV4 for AWS endpoints, a bearer token for the local stack."""

    def __init__(
        self, base_url: str, token: str | None, *, api_key: str | None = None, profile: str | None = None
    ) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token
        self.api_key, self.profile = api_key, profile
        self.http = requests.Session()

    def _headers(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The request's headers with its authentication: the bearer token, or a SigV4 signature
        over the method, URL, body and every header (the API key included)."""
        headers = dict(headers or {})
        if self.api_key:
            headers["x-api-key"] = self.api_key
        if self.token:
            return {**headers, "Authorization": f"Bearer {self.token}"}
        import botocore.session
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = botocore.session.Session(profile=self.profile)
        credentials = session.get_credentials()
        if credentials is None:
            raise SystemExit("no AWS credentials found (and no token): configure AWS or pass a token")
        # The API's own region first: a default region set for other work must not break the signature.
        region = api_region(url) or session.get_config_variable("region")
        if not region:
            raise SystemExit(f"cannot tell the region of {url}: set AWS_REGION or the profile's region")
        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        # doseq: a list value is a repeated parameter (`status=a&status=b`).
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None}, doseq=True)
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:  # fmt: skip
        """One authenticated request, answered as it came (any status)."""
        url = self.url(path, params)
        signed = self._headers(method, url, body, headers)
        return self.http.request(method, url, headers=signed, data=body, timeout=60)

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON answer; a 4xx or 5xx exits with the error envelope's code and message."""
        response = self.request(method, path, params)
        if response.status_code >= 400:
            self.fail(response)
        return dict(response.json())

    @staticmethod
    def fail(response: requests.Response) -> NoReturn:
        """Exit with the error envelope's status, code and message (or the start of a body that is not one)."""
        try:
            error = response.json().get("error", {})
        except ValueError:
            raise SystemExit(f"{response.status_code}: {response.text[:200]}") from None
        field = f" ({error['field']})" if error.get("field") else ""
        raise SystemExit(f"{response.status_code} {error.get('code')}: {error.get('message')}{field}")

    def records(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every record of a query, page after page (memory stays flat)."""
        cursor = None
        while True:
            page = self.call("GET", "/v1/explanations", {**params, "limit": PAGE, "cursor": cursor})
            yield from page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return
