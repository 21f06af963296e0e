"""The model manifest: everything Candor needs to call, explain and describe a model.

One JSON file per model version (`<registry>/<model_id>/manifest.json`), validated here
at cold start so that a bad manifest fails loudly before the first request.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.schemas.monitor import MonitorSpec

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
    unit: str | None = Field(
        default=None,
        description="Unit shown next to values: an ISO 4217 code (EUR) as money in the customer's locale, "
        "a known unit (days, months, kg) in the customer's words, any other as given.",
    )

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


# The explainers each in-process format can load (functions/adapters/in_process.py).
METHODS_BY_FORMAT = {
    "lightgbm_text": ("tree_shap", "permutation_shap", "kernel_shap"),
    "linear_text_json": ("linear_shap",),
    "xgboost_json": ("tree_shap",),
    "xgboost_ubj": ("tree_shap",),
    "catboost_cbm": ("tree_shap",),
    "sklearn_skops": ("tree_shap", "linear_shap"),  # functions/adapters/skops_model.py: which one, by estimator
    "onnx": ("tree_shap", "permutation_shap", "kernel_shap"),  # tree ensembles exact; other graphs as black boxes
}


class InProcessAdapter(_Strict):
    type: Literal["in_process"] = "in_process"
    format: Literal[
        "lightgbm_text", "linear_text_json", "xgboost_json", "xgboost_ubj", "catboost_cbm", "sklearn_skops", "onnx"
    ] = Field(
        description="Artifact format: LightGBM's text model, Candor's JSON for linear models over text, XGBoost's"
        " Booster.save_model as JSON or UBJSON (the `xgboost` extra), CatBoost's .cbm (the `catboost` extra), a"
        " scikit-learn classifier or pipeline saved with skops (loaded against an allow-list of types, never pickle;"
        " the `sklearn` extra), or an ONNX graph run by onnxruntime (the `onnx` extra)."
    )


def _check_jmespath(expression: str, field: str) -> str:
    import jmespath  # ships with boto3; imported here so schemas stay light for the small functions
    from jmespath.exceptions import JMESPathError

    try:
        jmespath.compile(expression)
    except JMESPathError as error:
        raise ValueError(f"{field}: not a valid JMESPath expression: {error}") from error
    return expression


ROW_PLACEHOLDERS = ("$rows", "$records", "$texts")
"""Request-template placeholders: encoded rows (lists in feature order, categories as their
index) or records (objects keyed by feature name, categories by name) for tabular models,
texts for text models."""

JsonValue = Any


class PinnedArtifact(_Strict):
    """A remote model's own file: its answers are explained exactly from it while they match it (remote-models.md)."""

    format: Literal["lightgbm_text", "xgboost_json", "xgboost_ubj", "catboost_cbm"]
    file: FileRef
    member: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None,
        description="The model file inside `file` when that is a .tar.gz, as SageMaker's model.tar.gz"
        " (e.g. xgboost-model).",
    )
    score_tolerance: Annotated[float, Field(gt=0, le=0.1)] = Field(
        default=1e-6,
        description="Largest difference, per label probability, between the endpoint's answer and the artifact's"
        " for the artifact to explain it; beyond it the decision is explained as a black box, and the record says why.",
    )


class RemoteCall(_Strict):
    """How Candor calls a model that runs elsewhere: deadline, retries, batching, request and answer shapes.

    Candor adapts to the model's own format: `request_template` is any JSON with exactly one
    placeholder string from ROW_PLACEHOLDERS where the batch of rows goes, and
    `response_path` is a JMESPath into the answer that yields one score per row (binary
    models: the probability of the second label) or one list of label probabilities per
    row, in the manifest's label order.
    """

    timeout_seconds: Annotated[float, Field(gt=0, le=60, description="Deadline of one call (connect and read).")] = 2.0
    max_attempts: Annotated[int, Field(ge=1, le=10, description="Tries per call; retryable errors only.")] = 3
    backoff_seconds: Annotated[float, Field(ge=0, le=10, description="First retry delay; doubles, with jitter.")] = 0.1
    max_batch_rows: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=None,
        description="Most rows in one call; unset: an explanation's rows (at most the explainer's budget) go in one.",
    )
    request_template: JsonValue = Field(default_factory=lambda: {"instances": "$rows"})
    response_path: str = "predictions"
    exact_artifact: PinnedArtifact | None = Field(
        default=None, description="Tabular models: the model's own file, to explain its answers exactly in one call."
    )

    @model_validator(mode="after")
    def _shapes(self) -> RemoteCall:
        found = _placeholders(self.request_template)
        if len(found) != 1:
            raise ValueError(
                f"adapter.request_template: needs exactly one of {list(ROW_PLACEHOLDERS)} as a JSON string value,"
                f" found {found or 'none'}"
            )
        _check_jmespath(self.response_path, "adapter.response_path")
        return self

    @property
    def placeholder(self) -> str:
        return _placeholders(self.request_template)[0]


def _placeholders(template: JsonValue) -> list[str]:
    if isinstance(template, str):
        return [template] if template in ROW_PLACEHOLDERS else []
    if isinstance(template, dict):
        return [p for value in template.values() for p in _placeholders(value)]
    if isinstance(template, list):
        return [p for value in template for p in _placeholders(value)]
    return []


class SageMakerEndpointAdapter(RemoteCall):
    type: Literal["sagemaker_endpoint"]
    endpoint_name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
    content_type: Literal["application/json", "text/csv"] = Field(
        default="application/json",
        description="text/csv sends encoded rows as CSV lines (no template) and reads CSV or JSON back.",
    )
    accept: Literal["application/json", "text/csv"] = "application/json"
    target_variant: str | None = None


class LambdaFunctionAdapter(RemoteCall):
    type: Literal["lambda_function"]
    function_name: Annotated[str, Field(min_length=1, max_length=170, description="Name or ARN.")]
    qualifier: str | None = Field(default=None, description="Version or alias to invoke.")


class SecretHeader(_Strict):
    """A request header whose value is read once per container from Secrets Manager or SSM."""

    header: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = "Authorization"
    source: Literal["secretsmanager", "ssm"]
    name: Annotated[str, Field(min_length=1, max_length=2048, description="Secret id or parameter name.")]
    prefix: str = Field(default="", pattern=r"^[^\r\n]*$", description='Put before the secret, e.g. "Bearer ".')


class HttpsEndpointAdapter(RemoteCall):
    type: Literal["https_endpoint"]
    url: Annotated[str, Field(pattern=r"^https://[^\s/$.?#][^\s]*$", description="HTTPS only; TLS is verified.")]
    auth: SecretHeader | None = None
    ca_bundle: FileRef | None = Field(
        default=None, description="PEM file of extra CA certificates to trust (private CAs), pinned by SHA-256."
    )


class PythonCallableAdapter(_Strict):
    """Library mode: the model is a Python function handed to `@explained`; nothing to load."""

    type: Literal["python_callable"]


RemoteAdapter = SageMakerEndpointAdapter | LambdaFunctionAdapter | HttpsEndpointAdapter
Adapter = Annotated[
    InProcessAdapter | SageMakerEndpointAdapter | LambdaFunctionAdapter | HttpsEndpointAdapter | PythonCallableAdapter,
    Field(discriminator="type"),
]


class ExplainerSpec(_Strict):
    method: Literal["tree_shap", "linear_shap", "permutation_shap", "kernel_shap"]
    settings: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="In-process sampled explainers: extra keyword arguments."
    )
    max_evaluations: Annotated[int, Field(ge=3, le=1_000_000)] = Field(
        default=2000,
        description="Black boxes: the budget, in rows sent to the model per explanation (background rows included).",
    )
    background_size: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=10, description="Black boxes: background rows kept after summarising the manifest's background."
    )
    background_summary: Literal["sample", "kmeans"] = Field(
        default="sample",
        description="sample: a seeded sample of real rows. kmeans: the nearest real row to each centroid, weighted"
        " by cluster size (permutation SHAP repeats rows by weight, which costs CPU, not model calls).",
    )
    seed: int = Field(default=0, description="Same request, same explanation.")
    deadline_seconds: Annotated[float, Field(gt=0, le=900)] = Field(
        default=5.0, description="Black boxes: time allowed for the explanation's model calls."
    )
    timing: Literal["inline", "deferred"] = Field(
        default="inline",
        description="deferred: the decision returns at once with a pending explanation that a worker completes.",
    )

    @property
    def exact(self) -> bool:
        """True for the methods that compute exact Shapley values from the model itself."""
        return self.method in ("tree_shap", "linear_shap")


class ExplanationPolicy(_Strict):
    """Which decisions get an individual explanation; the rest are recorded as not explained, with the reason."""

    explain: Literal["all", "sampled", "rule"] = "all"
    share: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None, description="sampled: the share of decisions explained, chosen by a hash of the request id."
    )
    rule: str | None = Field(
        default=None,
        description="rule: JMESPath over {inputs, channel, locale, jurisdiction, outcome: {label, score, adverse}};"
        " the decision is explained when it yields a truthy value.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ExplanationPolicy:
        if (self.explain == "sampled") != (self.share is not None):
            raise ValueError("explanation_policy.share is required for, and only for, explain: sampled")
        if (self.explain == "rule") != (self.rule is not None):
            raise ValueError("explanation_policy.rule is required for, and only for, explain: rule")
        if self.rule is not None:
            _check_jmespath(self.rule, "explanation_policy.rule")
        return self


class ReviewPolicy(_Strict):
    """Which decisions a person makes (A2I-style activation): the chatbot is told "referred", not the outcome."""

    rule: str = Field(
        description="JMESPath over {inputs, channel, locale, jurisdiction, outcome: {label, score, adverse, margin}};"
        " the decision goes to a person when it yields a truthy value. `margin` is how far the decision was from"
        " going the other way (|P(positive label) - threshold|, or the lead over the runner-up).",
    )
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None,
        description="Why these decisions are referred, for the reviewer and the record; default: the rule itself.",
    )

    @model_validator(mode="after")
    def _valid_rule(self) -> ReviewPolicy:
        _check_jmespath(self.rule, "review_policy.rule")
        return self

    @property
    def why(self) -> str:
        return self.reason or f"the model's review rule matched: {self.rule}"


def _check_remote_shapes(adapter: RemoteCall, is_text: bool) -> None:
    """Rows for tabular models, texts for text models: caught at load, not on the first request."""
    if (adapter.placeholder == "$texts") != is_text:
        wanted = "$texts" if is_text else "$rows or $records"
        raise ValueError(f"adapter.request_template: uses {adapter.placeholder}; this model's inputs need {wanted}")
    if is_text and adapter.exact_artifact is not None:
        raise ValueError("adapter.exact_artifact: tree models over tabular features only; a text model has none")
    if isinstance(adapter, SageMakerEndpointAdapter) and adapter.content_type == "text/csv":
        if is_text:
            raise ValueError("adapter.content_type: text/csv carries encoded rows; a text model needs application/json")
        if "request_template" in adapter.model_fields_set:
            raise ValueError("adapter.request_template: not used with content_type text/csv (rows go as CSV lines)")


class ModelManifest(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")]
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    kind: Literal["routing", "decision"]
    description: str
    adapter: Adapter
    artifact: FileRef | None = Field(default=None, description="In-process models: the model file.")
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
    explanation_policy: ExplanationPolicy = ExplanationPolicy()
    review_policy: ReviewPolicy | None = Field(
        default=None, description="Decisions a person makes before the customer is told; none: all automated."
    )
    review_sla_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days within which a person answers an appeal or referral (30: the GDPR answer period);"
        " older open ones raise the AppealsOverSla alarm.",
    )
    background: FileRef | None = Field(
        default=None,
        description='Background data for explainers: JSON {"description": ..., "rows": [feature objects]}.',
    )
    output_units: Literal["log_odds", "logit", "probability", "raw"]
    retention_class: Literal["standard", "consequential"] = "standard"
    training: dict[str, float | int | str] | None = Field(
        default=None, description="How the artifact was made: data seed, row counts, held-out metrics."
    )
    monitor: MonitorSpec | None = Field(
        default=None, description="What the hourly monitoring job checks, against which baseline (docs/auditors.md)."
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
        in_process = self.adapter.type == "in_process"
        if in_process != (self.artifact is not None):
            raise ValueError("artifact: required for, and only for, adapter type in_process")
        if self.explainer.exact and not in_process:
            raise ValueError(
                f"explainer.method: {self.explainer.method} needs the model itself; a {self.adapter.type} model"
                " is a black box: use permutation_shap or kernel_shap"
            )
        if isinstance(self.adapter, InProcessAdapter):
            methods = METHODS_BY_FORMAT[self.adapter.format]
            if self.explainer.method not in methods:
                raise ValueError(
                    f"explainer.method: a {self.adapter.format} model is explained with {' or '.join(methods)},"
                    f" not {self.explainer.method}"
                )
        if not in_process and not self.is_text and self.background is None:
            raise ValueError("background: black-box tabular models need background rows to explain against")
        if isinstance(self.adapter, RemoteCall):
            _check_remote_shapes(self.adapter, self.is_text)
        if self.review_policy is not None and self.kind != "decision":
            raise ValueError("review_policy: only decision models refer decisions to a person")
        if self.monitor is not None:
            _check_monitor(self.monitor, self.kind, set(names))
        if self.explainer.timing == "deferred" and not self.is_remote:
            raise ValueError("explainer.timing: deferred is for remote models, which a worker can call again")
        return self

    @property
    def is_remote(self) -> bool:
        return self.adapter.type not in ("in_process", "python_callable")

    @property
    def is_text(self) -> bool:
        return any(f.type == "text" for f in self.features)

    @property
    def background_sha256(self) -> str | None:
        """The background file's hash, for the record, when the explainer reads its rows (docs/models.md).

        TreeSHAP's reference is in the trees, and text models' is the empty message: they read none.
        """
        samples = self.explainer.method in ("permutation_shap", "kernel_shap")
        return self.background.sha256 if self.background and samples and not self.is_text else None

    def label(self, name: str) -> Label:
        return next(label for label in self.labels if label.name == name)


def _check_monitor(monitor: MonitorSpec, kind: str, features: set[str]) -> None:
    if monitor.protected_attributes and kind != "decision":
        raise ValueError("monitor.protected_attributes: fairness is monitored for decision models only")
    validation = monitor.baseline.validation
    if validation is not None and not set(validation.mean_abs_attributions) <= features:
        unknown = sorted(set(validation.mean_abs_attributions) - features)
        raise ValueError(f"monitor.baseline.validation: unknown features {unknown}")
