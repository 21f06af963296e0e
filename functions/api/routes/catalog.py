"""Read-only routes: health, the registered models, and the disclosure notice for first contact."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from functions.api.auth import IAM_AUTH, Role, requires
from functions.api.dependencies import manifests_registry, notices, operator_profile
from functions.api.errors import AUTH_ERRORS, documented
from functions.schemas.api import Notice
from functions.schemas.manifest import ModelManifest
from functions.schemas.settings import catalog_settings

router = Router()


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class FeatureSummary(BaseModel):
    name: str
    type: str
    display_names: dict[str, str]
    categories: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    unit: str | None = None


class LabelSummary(BaseModel):
    name: str
    display_names: dict[str, str]


class ModelSummary(BaseModel):
    id: str
    version: str
    kind: str
    description: str
    features: list[FeatureSummary]
    labels: list[LabelSummary]
    favourable_outcome: str | None
    explanation_method: str
    output_units: str

    @classmethod
    def of(cls, manifest: ModelManifest) -> ModelSummary:
        return cls(
            id=manifest.id,
            version=manifest.version,
            kind=manifest.kind,
            description=manifest.description,
            features=[FeatureSummary.model_validate(f.model_dump()) for f in manifest.features],
            labels=[LabelSummary.model_validate(label.model_dump()) for label in manifest.labels],
            favourable_outcome=manifest.favourable_outcome,
            explanation_method=manifest.explainer.method,
            output_units=manifest.output_units,
        )


class ModelList(BaseModel):
    models: list[ModelSummary]


@router.get("/v1/health", summary="Liveness", tags=["catalog"])
def health() -> Health:
    return Health()


@router.get(
    "/v1/models",
    summary="Registered models",
    middlewares=[requires(Role.chatbot, Role.auditor, Role.privacy)],
    security=IAM_AUTH,
    responses={200: {"description": "The registered models"}, **AUTH_ERRORS},
    tags=["catalog"],
)
def list_models() -> ModelList:
    return ModelList(models=[ModelSummary.of(m) for m in sorted(manifests_registry().manifests(), key=lambda m: m.id)])


@router.get(
    "/v1/disclosure",
    summary="The AI-disclosure notice to show before the first AI answer",
    description="Call this when a conversation starts and show the notice before the first AI answer "
    "(EU AI Act Art. 50(1)); every decision response repeats it.",
    middlewares=[requires(Role.chatbot)],
    security=IAM_AUTH,
    responses={
        200: {"description": "The notice, in the requested language or English (fallback stated)"},
        **AUTH_ERRORS,
        **documented(e422="A query parameter is too long or unknown"),
    },
    tags=["catalog"],
)
def disclosure(
    locale: Annotated[str, Query(max_length=35)] = "en",
    jurisdiction: Annotated[str, Query(max_length=16)] = "default",
) -> Notice:
    return notices().notice(
        locale=locale, jurisdiction=jurisdiction, operator=operator_profile(catalog_settings()), model=None, kind=None
    )
