"""The monitoring job's CloudWatch metrics (EMF on stdout): per model, and per model and group."""

from __future__ import annotations

import json

import pytest

from functions.domain.monitoring import WITHHELD, Check, GroupStatus, MonitoringReport


def report() -> MonitoringReport:
    group = {"attributes": "age_band", "count": 100}
    return MonitoringReport(
        model_id="m",
        evaluated_at="2026-12-02T09:00:00Z",
        window={"from": "2026-12-01T09:00:00Z", "to": "2026-12-02T09:00:00Z"},
        baseline={"validation": "4000 records"},
        records=300,
        status="violated",
        violations=["impact_ratio of age_band (65+): 0.500 < 0.8"],
        checks=[
            Check(check="impact_ratio", subject="age_band", status="violated", value=0.5, threshold=0.8,
                  violating_groups=["65+"], detail=""),
            Check(check="attribution_ndcg", subject="model", status="ok", value=0.97, threshold=0.9, detail=""),
            Check(check="outcome_psi", subject="model", status="not_enough_data", value=None, threshold=0.25,
                  detail=""),
        ],
        groups=[
            GroupStatus(**group, group="18-34", selection_rate=0.8, impact_ratio=1.0, status="ok"),
            GroupStatus(**group, group="65+", selection_rate=0.4, impact_ratio=0.5, status="violated"),
            GroupStatus(**group, group="tiny", selection_rate=None, impact_ratio=None, status="not_enough_data"),
            GroupStatus(**group, group=WITHHELD, selection_rate=0.6, impact_ratio=0.75, status="ok"),
        ],
        previous_report_sha256=None,
        signing_key_id="arn:aws:kms:eu-west-1:123456789012:key/k",
    )  # fmt: skip


def test_each_group_gets_its_selection_rate_and_impact_ratio(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "candor")  # as template.yaml's Globals
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Candor")
    from functions.handlers.monitoring import metrics, publish

    metrics.clear_metrics()
    publish(report())
    aggregate = metrics.metric_set["MonitorViolations"]["Value"]  # flushed with the service dimension alone
    metrics.clear_metrics()
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in capsys.readouterr().out.splitlines():
        emf = json.loads(line)
        (directive,) = emf["_aws"]["CloudWatchMetrics"]
        (dimensions,) = directive["Dimensions"]
        for metric in directive["Metrics"]:
            found[metric["Name"], tuple(sorted((d, emf[d]) for d in dimensions))] = emf[metric["Name"]][0]
    model = (("model_id", "m"), ("service", "candor"))
    group = (("attribute", "age_band"), ("group", "65+"), *model)
    assert found["ImpactRatio", group] == pytest.approx(0.5)
    assert found["SelectionRate", group] == pytest.approx(0.4)
    assert ("ImpactRatio", (("attribute", "age_band"), ("group", "18-34"), *model)) in found
    assert found["MonitorViolations", model] == 1
    assert aggregate == [1.0]  # the alarm's metric
    assert found["AttributionNDCG", model] == pytest.approx(0.97)
    assert not [key for key in found if key[0] == "OutcomePSI"]  # not enough data: no value published
    assert not [key for key in found if any(v in ("tiny", WITHHELD) for _, v in key[1])]
