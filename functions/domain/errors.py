"""Domain exceptions. `functions/api/errors.py` is the one place that maps them to HTTP."""

from __future__ import annotations


class CandorError(Exception):
    """Base class; `code` is the machine-readable error code clients see."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(CandorError):
    """The caller sent something the model cannot take (422)."""

    code = "invalid_input"


class NotFound(CandorError):
    """The thing named in the path does not exist (404)."""

    code = "not_found"


class UnknownModel(NotFound):
    code = "unknown_model"


class UnknownRecord(NotFound):
    code = "unknown_decision"


class Conflict(CandorError):
    """The thing is in another state than the request needs: claimed by someone else, resolved (409)."""

    code = "conflict"


class IdempotencyConflict(Conflict):
    """The request_id was decided already, with another body (409)."""

    code = "idempotency_conflict"


class RequestInProgress(Conflict):
    """The request_id's first decision is being stored right now; asked again shortly, it is answered (409)."""

    code = "request_in_progress"


class MalformedRequest(CandorError):
    """Something the caller sent cannot be read at all, e.g. a tampered cursor (400)."""

    code = "malformed_request"


class ModelOutputInvalid(CandorError):
    """The model answered with something unusable (502)."""

    code = "bad_model_output"


class DependencyUnavailable(CandorError):
    """Storage, a key or the model endpoint failed or was too slow (503); nothing was released."""

    code = "dependency_unavailable"


class ModelTimeout(DependencyUnavailable):
    """The model endpoint did not answer within its deadline, retries included."""

    code = "model_timeout"


class ModelThrottled(DependencyUnavailable):
    """The model endpoint kept refusing for load (429, ThrottlingException) through the retries."""

    code = "model_throttled"


class ModelUnavailable(DependencyUnavailable):
    """The model endpoint failed (5xx, connection or TLS error, missing endpoint or function)."""

    code = "model_unavailable"


class ExplanationUnavailable(CandorError):
    """No explanation could be computed in time; the decision stands and the explanation is left pending."""

    code = "explanation_unavailable"


class ManifestError(CandorError):
    """A model manifest or artifact is invalid or does not match its pinned hash."""

    code = "manifest_error"
