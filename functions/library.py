"""Library mode: Candor inside a Python Lambda function that already calls its own model.

    from functions.library import explained

    @explained(model_id="refund-decision-inline")
    def refund_model(rows: np.ndarray) -> np.ndarray:   # encoded rows in, probabilities out
        return MY_BOOSTER.predict(rows)

    def lambda_handler(event, context):
        answer = refund_model.decide(json.loads(event["body"]))   # a DecisionResponse
        return {"statusCode": 200, "body": answer.model_dump_json()}

`decide` validates the request, calls the decorated function (once for the decision, in as
few batched calls as possible for the explanation), attaches the disclosure and writes the
same sealed record as POST /v1/decisions/{model_id}, before returning the same body. The
model's manifest (adapter type `python_callable`) comes from the registry, as for any model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import ValidationError

from functions.adapters.black_box import BlackBoxRuntime
from functions.adapters.in_process import ReadFile
from functions.adapters.loader import background_rows
from functions.adapters.remote.probabilities import to_probabilities
from functions.domain.decide import DecisionServices, decide
from functions.domain.disclosure import NoticeCatalogue
from functions.domain.errors import InvalidInput, ManifestError
from functions.domain.ports import ModelRuntime, RecordStore
from functions.schemas.api import DecisionRequest, DecisionResponse
from functions.schemas.manifest import ModelManifest
from functions.stores.model_registry import ModelRegistry, source_from_uri

PredictFunction = Callable[[Any], Any]


class CallableModel:
    """The decorated function as a BatchModel: its answers are checked like a remote model's."""

    def __init__(self, manifest: ModelManifest, predict: PredictFunction) -> None:
        self._manifest, self._predict = manifest, predict
        self.requests_sent = 0

    def __call__(self, rows: np.ndarray | Sequence[str], deadline: float) -> np.ndarray:
        self.requests_sent += 1
        answer = np.asarray(self._predict(rows), dtype=float)
        return to_probabilities(answer.tolist(), len(rows), len(self._manifest.labels))


class ExplainedFunction:
    """The decorated model function, still callable as before, plus `decide(request)`."""

    def __init__(self, predict: PredictFunction, model_id: str, services: DecisionServices, links_base: str) -> None:
        self._predict, self.model_id, self._services, self._links_base = predict, model_id, services, links_base

    def __call__(self, rows: Any) -> Any:
        return self._predict(rows)

    def decide(self, request: DecisionRequest | Mapping[str, Any]) -> DecisionResponse:
        """Decide, explain, disclose and seal, exactly as the decision route does; raises CandorError subclasses."""
        return decide(self.model_id, _parsed(request), self._services, self._links_base)


def _parsed(request: DecisionRequest | Mapping[str, Any]) -> DecisionRequest:
    """The request, or InvalidInput naming the first wrong field (422, as on the route)."""
    if isinstance(request, DecisionRequest):
        return request
    try:
        return DecisionRequest.model_validate(request)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(first["msg"], field=".".join(map(str, first["loc"])) or "body") from None


def explained(
    model_id: str,
    *,
    store: RecordStore | None = None,
    disclosure: NoticeCatalogue | None = None,
    models_uri: str | None = None,
    links_base: str | None = None,
) -> Callable[[PredictFunction], ExplainedFunction]:
    """Decorate a model function (encoded rows, or texts, in; probabilities out) to explain and record it.

    `store` and `disclosure` default to the decision function's own (from the CANDOR_*
    environment: records table, archive and personal buckets, KMS key, notices);
    `models_uri` to CANDOR_MODELS_URI; `links_base` to CANDOR_PUBLIC_BASE_URL. The model is
    loaded at decoration (cold start), so a bad manifest fails before the first request.
    """

    def decorate(predict: PredictFunction) -> ExplainedFunction:
        from functions.api.decision_dependencies import decision_services  # reads the environment
        from functions.schemas.settings import decision_settings
        from functions.stores import aws_clients

        settings = decision_settings()

        def load(manifest: ModelManifest, read: ReadFile) -> ModelRuntime:
            if manifest.adapter.type != "python_callable":
                raise ManifestError(f"model {manifest.id}: adapter.type must be python_callable in library mode")
            return BlackBoxRuntime(manifest, CallableModel(manifest, predict), background_rows(manifest, read))

        registry = ModelRegistry(source_from_uri(models_uri or settings.models_uri, aws_clients.s3), load)
        registry.runtime(model_id)
        defaults = decision_services()
        services = replace(
            defaults,
            models=registry,
            records=store or defaults.records,
            notices=disclosure or defaults.notices,
            explanation_queue=None,  # a worker cannot call this function's model again
        )
        return ExplainedFunction(predict, model_id, services, links_base or settings.public_base_url)

    return decorate
