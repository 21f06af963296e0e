"""Monitors judge the reports' numbers: violations name their groups; too little data is never a violation."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.domain.monitoring import (
    WITHHELD,
    drift_checks,
    fairness_checks,
    ndcg,
    overall,
    rank_correlation,
    validation_tally,
    violation_lines,
)
from functions.domain.reports import AttributionTally, FairnessTally, attribution_report, fairness_report_of
from functions.schemas.manifest import ModelManifest
from functions.schemas.monitor import MonitorSpec, Thresholds, ValidationBaseline

WINDOW = {"from": "2026-12-01T00:00:00.000Z", "to": "2026-12-02T00:00:00.000Z"}
REFUND = Path(__file__).resolve().parents[3] / "models" / "refund-decision" / "manifest.json"


def fairness(groups: dict[str, tuple[int, int]], *, min_group_size: int = 30):
    tally = FairnessTally(["age_band"], "approve")
    tally.add_counts(sum(n for n, _ in groups.values()), groups)
    return fairness_report_of(tally, model_id="m", min_group_size=min_group_size, window=WINDOW)


def test_a_group_below_four_fifths_is_violated_and_named():
    checks, groups = fairness_checks(fairness({"18-34": (100, 80), "65+": (50, 25)}), Thresholds())
    (impact,) = checks
    assert impact.status == "violated"
    assert impact.violating_groups == ["65+"]
    assert impact.value == pytest.approx(0.625)
    assert {g.group: g.status for g in groups} == {"18-34": "ok", "65+": "violated"}
    assert violation_lines(checks) == ["impact_ratio of age_band (65+): 0.625 < 0.8"]


def test_small_groups_are_not_enough_data_never_a_false_alarm():
    # 65+ would be far below 0.8, but 10 records say nothing: not judged, and alone no group is compared.
    checks, groups = fairness_checks(fairness({"18-34": (100, 80), "65+": (10, 1)}), Thresholds())
    assert checks[0].status == "not_enough_data"
    assert checks[0].violating_groups == []
    assert {g.group: g.status for g in groups}["65+"] == "not_enough_data"
    assert overall(checks) == "not_enough_data"


def test_parity_difference_names_the_extremes():
    thresholds = Thresholds(max_parity_difference=0.1, min_impact_ratio=None)
    (parity,) = fairness_checks(fairness({"a": (100, 90), "b": (100, 80), "c": (100, 60)}), thresholds)[0]
    assert parity.status == "violated"
    assert parity.value == pytest.approx(0.3)
    assert parity.violating_groups == ["c", "a"]


def test_a_personal_label_is_withheld_from_the_report():
    checks, groups = fairness_checks(fairness({"ann@example.com": (100, 40), "b": (100, 90)}), Thresholds())
    assert checks[0].violating_groups == [WITHHELD]
    assert "ann@example.com" not in json.dumps([c.model_dump() for c in checks] + [g.model_dump() for g in groups])


def test_ndcg_and_rank_correlation_as_clarify_measures_drift():
    baseline = {"a": 3.0, "b": 2.0, "c": 1.0}
    assert ndcg(baseline, baseline) == pytest.approx(1.0)
    assert rank_correlation(baseline, baseline) == pytest.approx(1.0)
    reversed_ = {"a": 1.0, "b": 2.0, "c": 3.0}
    assert rank_correlation(reversed_, baseline) == pytest.approx(-1.0)
    # current order c, b, a: DCG = 1/1 + 2/log2(3) + 3/2; ideal = 3/1 + 2/log2(3) + 1/2
    assert ndcg(reversed_, baseline) == pytest.approx((1 + 2 / 1.5849625 + 1.5) / (3 + 2 / 1.5849625 + 0.5))
    assert ndcg({"a": 1.0}, {}) is None


def tally(records: int, outcomes: dict[str, int], means: dict[str, float], disclosed: int | None = None):
    found = AttributionTally()
    found.add_counts(
        records, outcomes, {f: m * records for f, m in means.items()}, records if disclosed is None else disclosed
    )
    return found


VALIDATION = ValidationBaseline(
    records=4000, outcomes={"approve": 2400, "deny": 1600}, mean_abs_attributions={"a": 1.8, "b": 1.0, "c": 0.2}
)


def drift(current: AttributionTally):
    baseline = validation_tally(VALIDATION)
    report = attribution_report("m", current, WINDOW, {"a": "A", "b": "B", "c": "C"}, baseline)
    thresholds = Thresholds(min_attribution_rank_correlation=0.5)
    return {c.check: c for c in drift_checks(report, thresholds, baseline.means())}


def test_the_same_attributions_do_not_drift():
    checks = drift(tally(500, {"approve": 300, "deny": 200}, {"a": 1.7, "b": 1.1, "c": 0.3}))
    assert {c.status for c in checks.values()} == {"ok"}
    assert set(checks) == {"attribution_ndcg", "attribution_rank_correlation", "outcome_psi", "disclosure_coverage"}


def test_a_feature_taking_the_lead_trips_ndcg_and_names_it():
    checks = drift(tally(500, {"approve": 300, "deny": 200}, {"a": 0.1, "b": 0.5, "c": 2.5}))
    assert checks["attribution_ndcg"].status == "violated"
    assert checks["attribution_ndcg"].value < 0.9
    assert checks["attribution_ndcg"].violating_groups[0] == "C"
    assert checks["attribution_rank_correlation"].status == "violated"


def test_a_feature_the_window_never_attributes_to_counts_as_zero():
    # "a" led the baseline; a version that never reports it must not simply drop it from the ranking.
    checks = drift(tally(500, {"approve": 300, "deny": 200}, {"b": 1.0, "c": 0.2}))
    assert checks["attribution_ndcg"].status == "violated"


def test_drift_and_psi_need_enough_records_disclosure_does_not():
    checks = drift(tally(20, {"deny": 20}, {"a": 0.1, "c": 2.5}, disclosed=19))
    assert checks["attribution_ndcg"].status == "not_enough_data"
    assert checks["outcome_psi"].status == "not_enough_data"
    assert checks["attribution_ndcg"].value is None
    assert checks["disclosure_coverage"].status == "violated"  # one decision without its notice is one too many
    assert checks["disclosure_coverage"].value == pytest.approx(0.95)


def test_an_empty_window_is_not_enough_data():
    checks = list(drift(AttributionTally()).values())
    assert overall(checks) == "not_enough_data"
    assert violation_lines(checks) == []


def test_the_bundled_refund_manifest_has_a_validated_monitor():
    manifest = ModelManifest.model_validate(json.loads(REFUND.read_text()))
    assert manifest.monitor is not None
    assert manifest.monitor.protected_attributes == ["age_band", "gender"]
    assert manifest.monitor.baseline.validation is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["baseline"].update(window={"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}),
         "exactly one of"),
        (lambda m: m.update(intersections=[["age_band", "income"]]), "two different protected_attributes"),
        (lambda m: m["thresholds"].update(min_impact_ratio=1.5), "less than or equal to 1"),
        (lambda m: m["baseline"]["validation"]["mean_abs_attributions"].update(nope=1.0), "unknown features"),
        (lambda m: m.update(window_hours=0), "greater than or equal to 1"),
    ],
)  # fmt: skip
def test_a_bad_monitor_fails_the_manifest(change, message):
    document = json.loads(REFUND.read_text())
    monitor = copy.deepcopy(document["monitor"])
    change(monitor)
    with pytest.raises(ValidationError, match=message):
        ModelManifest.model_validate({**document, "monitor": monitor})


def test_a_baseline_window_needs_offsets_and_order():
    with pytest.raises(ValidationError, match="UTC offset"):
        MonitorSpec.model_validate({"baseline": {"window": {"from": "2026-11-01T00:00", "to": "2026-11-02T00:00"}}})
    with pytest.raises(ValidationError, match="before"):
        MonitorSpec.model_validate(
            {"baseline": {"window": {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}}}
        )
