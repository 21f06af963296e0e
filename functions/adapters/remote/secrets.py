"""The auth header of an HTTPS model: its value read once per container from Secrets Manager or SSM.

The value is a credential: it is never logged, never put in an error message, and hidden
from `repr`. Only the header name and where the secret lives are ever shown.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from functions.adapters.remote.aws_errors import SDK_FAILURES
from functions.domain.errors import ModelUnavailable
from functions.schemas.manifest import SecretHeader

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient


class SecretHeaderValue:
    """`{header: prefix + secret}`, read on first use (not at cold start: a model never called costs nothing)."""

    def __init__(
        self,
        auth: SecretHeader,
        secretsmanager: Callable[[], SecretsManagerClient],
        ssm: Callable[[], SSMClient],
    ) -> None:
        self.auth = auth
        self._secretsmanager = secretsmanager
        self._ssm = ssm
        self._value: str | None = None
        self._lock = threading.Lock()
        self.reads = 0  # how many times the secret store was asked (tests check it is once)

    def __repr__(self) -> str:
        return f"SecretHeaderValue(header={self.auth.header!r}, source={self.auth.source!r}, name={self.auth.name!r})"

    def headers(self) -> dict[str, str]:
        """The header to send; raises ModelUnavailable (naming the secret, not its value) if it cannot be read."""
        with self._lock:
            if self._value is None:
                self._value = self.auth.prefix + self._read()
            return {self.auth.header: self._value}

    def _read(self) -> str:
        self.reads += 1
        where = f"{self.auth.source} {self.auth.name}"
        try:
            with _botocore_bodies_unlogged():
                secret = self._read_secretsmanager() if self.auth.source == "secretsmanager" else self._read_ssm(where)
        except SDK_FAILURES as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
            raise ModelUnavailable(f"the model's auth secret could not be read from {where}: {code}") from None
        if not secret or any(ch in secret for ch in "\r\n"):
            raise ModelUnavailable(f"the model's auth secret in {where} is empty or spans lines")
        return secret

    def _read_secretsmanager(self) -> str:
        answer = self._secretsmanager().get_secret_value(SecretId=self.auth.name)
        if "SecretString" in answer:
            return answer["SecretString"]
        return answer.get("SecretBinary", b"").decode()

    def _read_ssm(self, where: str) -> str:
        parameter = self._ssm().get_parameter(Name=self.auth.name, WithDecryption=True)["Parameter"]
        if parameter.get("Type") != "SecureString":
            # A credential in a plain String parameter is readable by anyone with ssm:GetParameter*.
            raise ModelUnavailable(f"{where} is a {parameter.get('Type')} parameter; auth secrets must be SecureString")
        return parameter["Value"]


@contextlib.contextmanager
def _botocore_bodies_unlogged() -> Iterator[None]:
    """Keep botocore from logging the secret: at DEBUG its parser logs every response body.

    Process-wide for the few milliseconds of one read per container; other threads lose
    botocore's DEBUG parser lines meanwhile, which is the lesser evil.
    """
    parser_log = logging.getLogger("botocore.parsers")
    level = parser_log.level
    parser_log.setLevel(max(logging.INFO, level))
    try:
        yield
    finally:
        parser_log.setLevel(level)
