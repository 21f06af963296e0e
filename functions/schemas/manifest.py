"""The model manifest: everything Candor needs to call, explain and describe a model.

One JSON file per model version (`<registry>/<model_id>/manifest.json`), validated here
at cold start so that a bad manifest fails loudly before the first request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Locale = Annotated[str, Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 language code")]
DisplayNames = Annotated[
    dict[Locale, str],
    Field(min_length=1, description="Human-readable name per language; `en` is required."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _require_english(names: dict[str, str], owner: str) -> None:
    if "en" not in names:
        raise ValueError(f"{owner}: display_names needs an 'en' entry (the fallback language)")


class Feature(_Strict):
    """One model input. Categories are encoded as their index in `categories`."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    type: Literal["number", "integer", "boolean", "category", "text"]
    display_names: DisplayNames
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None
    category_display_names: dict[str, DisplayNames] | None = Field(
        default=None, description="Per category, its human-readable name per language."
    )
    max_length: Annotated[int, Field(gt=0, le=20_000)] | None = Field(
        default=None, description="Text features only: the longest accepted message, in characters."
    )
    unit: str | None = Field(default=None, description="Unit shown next to values, e.g. EUR, days.")

    @model_validator(mode="after")
    def _consistent(self) -> Feature:
        _require_english(self.display_names, f"feature {self.name}")
        if (self.type == "category") != (self.categories is not None):
            raise ValueError(f"feature {self.name}: 'categories' is required for, and only for, type category")
        if self.type == "text" and self.max_length is None:
            raise ValueError(f"feature {self.name}: text features need 'max_length'")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"feature {self.name}: minimum is above maximum")
        return self


class Label(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    display_names: DisplayNames

    @model_validator(mode="after")
    def _english(self) -> Label:
        _require_english(self.display_names, f"label {self.name}")
        return self


class FileRef(_Strict):
    """A file next to the manifest, pinned by its SHA-256 (checked before it is read)."""

    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", description="File name, relative to the manifest.")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class InProcessAdapter(_Strict):
    type: Literal["in_process"] = "in_process"
    format: Literal["lightgbm_text", "linear_text_json"] = Field(
        description="Artifact format: LightGBM's text model, or Candor's JSON for linear models over text."
    )


class ExplainerSpec(_Strict):
    method: Literal["tree_shap", "linear_shap", "permutation_shap"]
    settings: dict[str, float | int | str | bool] = Field(default_factory=dict)


class ModelManifest(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")]
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    kind: Literal["routing", "decision"]
    description: str
    adapter: InProcessAdapter
    artifact: FileRef
    features: Annotated[list[Feature], Field(min_length=1)]
    labels: Annotated[list[Label], Field(min_length=2, description="In the order of the model's outputs.")]
    favourable_outcome: str | None = Field(
        default=None, description="Decision models: the label that favours the subject."
    )
    decision_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Binary decision models: score at or above which the favourable label is chosen.",
    )
    explainer: ExplainerSpec
    background: FileRef | None = Field(
        default=None,
        description='Background data for explainers: JSON {"description": ..., "rows": [feature objects]}.',
    )
    output_units: Literal["log_odds", "logit", "probability", "raw"]
    retention_class: Literal["standard", "consequential"] = "standard"
    training: dict[str, float | int | str] | None = Field(
        default=None, description="How the artifact was made: data seed, row counts, held-out metrics."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ModelManifest:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        labels = [label.name for label in self.labels]
        if len(set(labels)) != len(labels):
            raise ValueError("label names must be unique")
        if self.kind == "decision" and self.favourable_outcome not in labels:
            raise ValueError("decision models need 'favourable_outcome' naming one of the labels")
        if self.decision_threshold is not None and len(self.labels) != 2:
            raise ValueError("'decision_threshold' applies to binary models only")
        return self

    @property
    def is_text(self) -> bool:
        return any(f.type == "text" for f in self.features)

    def label(self, name: str) -> Label:
        return next(label for label in self.labels if label.name == name)
