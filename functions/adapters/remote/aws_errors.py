"""How a failed SageMaker or Lambda call is classified: retry or not, and which error it ends in.

Tables, not if-chains: error codes first (a ModelNotReadyException comes with HTTP 429 but
is an endpoint that is not up, not load), then the HTTP status, then botocore's transport
exceptions looked up along their class hierarchy.
"""

from __future__ import annotations

from botocore import exceptions as botocore_errors

from functions.adapters.remote.retry import AttemptFailed, FailureKind

# code -> (kind, retryable)
_BY_CODE: dict[str, tuple[FailureKind, bool]] = {
    **dict.fromkeys(
        (
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottledException",
            "TooManyRequestsException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "RequestThrottled",
            "SlowDown",
            "EC2ThrottledException",
        ),
        ("throttled", True),
    ),
    **dict.fromkeys(("RequestTimeout", "RequestTimeoutException"), ("timeout", True)),
    **dict.fromkeys(
        (
            "ServiceUnavailable",
            "ServiceUnavailableException",
            "InternalFailure",
            "InternalServerError",
            "InternalDependencyException",  # SageMaker: a dependency of the endpoint failed
            "ServiceException",  # Lambda: the service itself failed
            "ModelNotReadyException",  # SageMaker: the endpoint is scaling from zero or updating
            "ResourceNotReadyException",  # Lambda: the function is still being created or restored
            "ResourceConflictException",  # Lambda: the function is being updated
            "PriorRequestNotComplete",
            "EC2UnexpectedException",
        ),
        ("unavailable", True),
    ),
    # Lambda answers these with HTTP 502, but they are the function's configuration (its KMS
    # key, VPC, package), which no retry fixes.
    **dict.fromkeys(
        (
            "KMSAccessDeniedException",
            "KMSDisabledException",
            "KMSInvalidStateException",
            "KMSNotFoundException",
            "EC2AccessDeniedException",
            "ENILimitReachedException",
            "InvalidSubnetIDException",
            "InvalidSecurityGroupIDException",
            "SubnetIPAddressLimitReachedException",
            "InvalidZipFileException",
            "InvalidRuntimeException",
        ),
        ("unavailable", False),
    ),
}

# What a code that is not in the table means, per HTTP status class.
_RETRYABLE_STATUS: dict[int, FailureKind] = {429: "throttled", 408: "timeout"}

_BY_EXCEPTION: dict[type[Exception], tuple[FailureKind, bool]] = {
    botocore_errors.ReadTimeoutError: ("timeout", True),
    botocore_errors.ConnectTimeoutError: ("timeout", True),
    botocore_errors.SSLError: ("unavailable", False),  # a certificate problem does not fix itself
    botocore_errors.ConnectionError: ("unavailable", True),  # refused, DNS, proxy
    botocore_errors.HTTPClientError: ("unavailable", True),  # connection reset or closed mid-answer
}

SDK_FAILURES = (botocore_errors.ClientError, botocore_errors.BotoCoreError)


def classify(error: Exception, action: str) -> AttemptFailed:
    """The classified failure of `action` (e.g. "InvokeEndpoint"); messages name codes, never payloads."""
    if isinstance(error, botocore_errors.ClientError):
        return _classify_client_error(error, action)
    for cls in type(error).__mro__:
        if cls in _BY_EXCEPTION:
            kind, retryable = _BY_EXCEPTION[cls]
            return AttemptFailed(kind, f"{action} failed: {type(error).__name__}", retryable=retryable)
    # Credentials, parameter validation, unknown region: the deployment is wrong, retrying will not help.
    return AttemptFailed("unavailable", f"{action} could not be sent: {type(error).__name__}", retryable=False)


def _classify_client_error(error: botocore_errors.ClientError, action: str) -> AttemptFailed:
    code = str(error.response.get("Error", {}).get("Code", "Unknown"))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code == "ModelError":
        return _model_error(error, action)
    cause = f"{action} failed: {code} (HTTP {status})"
    if code in _BY_CODE:
        kind, retryable = _BY_CODE[code]
        return AttemptFailed(kind, cause, retryable=retryable)
    if status in _RETRYABLE_STATUS:
        return AttemptFailed(_RETRYABLE_STATUS[status], cause, retryable=True)
    if status >= 500:
        return AttemptFailed("unavailable", cause, retryable=True)
    # ValidationError, ResourceNotFound, AccessDenied, KMS errors...: the manifest or the IAM
    # policy is wrong. The caller did nothing wrong, so it is still a 503, named for the operator.
    return AttemptFailed("unavailable", f"{cause}; check the manifest and the function's permissions", retryable=False)


def _model_error(error: botocore_errors.ClientError, action: str) -> AttemptFailed:
    """SageMaker's ModelError: the model container itself answered with an error status."""
    original = int(error.response.get("OriginalStatusCode", 0) or 0)  # type: ignore[call-overload]
    cause = f"{action} failed: the model container answered HTTP {original or 'error'} (ModelError)"
    if original == 429:
        return AttemptFailed("throttled", cause, retryable=True)
    return AttemptFailed("unavailable", cause, retryable=original >= 500)
