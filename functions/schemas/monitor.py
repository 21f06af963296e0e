"""A model's monitor: what the hourly monitoring job checks, against which baseline (the manifest's `monitor`).

    "monitor": {
      "window_hours": 24,
      "baseline": {"validation": {"records": 4000, "outcomes": {...}, "mean_abs_attributions": {...}}},
      "protected_attributes": ["age_band", "gender"],
      "intersections": [["age_band", "gender"]],
      "thresholds": {"min_impact_ratio": 0.8, "min_group_size": 30, ...}
    }

The baseline is a fixed window of the model's own records (`{"window": {"from": ..., "to": ...}}`)
or the numbers of its validation report (`{"validation": ...}`: outcome counts and mean |SHAP|
per feature over the held-out set). See docs/auditors.md#monitors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

AttributeName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BaselineWindow(_Strict):
    start: datetime = Field(alias="from", description="ISO 8601 with offset, inclusive.")
    end: datetime = Field(alias="to", description="ISO 8601 with offset, exclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> BaselineWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("baseline window bounds need a UTC offset (e.g. 2026-11-01T00:00:00Z)")
        if self.start >= self.end:
            raise ValueError("baseline window: 'from' must be before 'to'")
        return self


class ValidationBaseline(_Strict):
    """The model's validation report, reduced to what drift is measured against."""

    records: Annotated[int, Field(gt=0)]
    outcomes: dict[str, Annotated[int, Field(ge=0)]] = Field(description="Count per label over the held-out set.")
    mean_abs_attributions: dict[str, Annotated[float, Field(ge=0)]] = Field(
        min_length=1, description="Mean |SHAP value| per feature over the held-out set, in the model's output units."
    )


class Baseline(_Strict):
    window: BaselineWindow | None = None
    validation: ValidationBaseline | None = None

    @model_validator(mode="after")
    def _one(self) -> Baseline:
        if (self.window is None) == (self.validation is None):
            raise ValueError("baseline: give exactly one of 'window' or 'validation'")
        return self


class Thresholds(_Strict):
    """When a check is violated. A check with a None threshold is not made."""

    min_group_size: Annotated[int, Field(gt=0)] = Field(
        default=30, description="Groups with fewer records are 'not enough data', never a violation."
    )
    min_impact_ratio: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=0.8, description="A group's selection rate / the most favoured group's, below this: violated."
    )
    max_parity_difference: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None, description="Highest minus lowest selection rate of reportable groups, above this: violated."
    )
    min_attribution_ndcg: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=0.9, description="NDCG of the current mean |SHAP| ranking against the baseline's (Clarify's 0.9)."
    )
    min_attribution_rank_correlation: Annotated[float, Field(ge=-1, le=1)] | None = Field(
        default=None, description="Spearman correlation of the two rankings, below this: violated."
    )
    max_outcome_psi: Annotated[float, Field(gt=0)] | None = Field(
        default=0.25, description="Population stability index of the outcome distribution, above this: violated."
    )
    min_disclosure_coverage: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=1.0, description="Share of decisions that carried an AI-disclosure notice, below this: violated."
    )
    max_overturn_ratio: Annotated[float, Field(gt=1)] | None = Field(
        default=1.25,
        description="Human review: a group's overturn rate over all resolved cases' rate, at or above this: violated"
        " (groups need min_group_size resolved cases; GET /v1/reports/reviews).",
    )
    max_appeal_ratio: Annotated[float, Field(gt=1)] | None = Field(
        default=1.25,
        description="A group's appeal rate (review cases per decision) over all decisions' rate, at or above this:"
        " violated (groups need min_group_size decisions, the window as many cases).",
    )
    min_records: Annotated[int, Field(gt=0)] = Field(
        default=100, description="Fewer records in the window (or the baseline): drift checks say not enough data."
    )


class MonitorSpec(_Strict):
    window_hours: Annotated[int, Field(ge=1, le=24 * 31)] = Field(
        default=24, description="Each run looks at the records of the last this many hours."
    )
    baseline: Baseline
    protected_attributes: list[AttributeName] = Field(
        default_factory=list, description="Segment attributes whose groups are compared (decision models)."
    )
    intersections: list[Annotated[list[AttributeName], Field(min_length=2, max_length=2)]] = Field(
        default_factory=list, description="Pairs of protected attributes whose combinations are compared too."
    )
    thresholds: Thresholds = Thresholds()

    @model_validator(mode="after")
    def _intersections_of_protected(self) -> MonitorSpec:
        for pair in self.intersections:
            if not set(pair) <= set(self.protected_attributes) or pair[0] == pair[1]:
                raise ValueError(f"intersection {pair}: two different protected_attributes")
        return self
