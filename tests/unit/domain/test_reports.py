import math

import pytest

from functions.domain.reports import AttributionTally, attribution_report, fairness_report, population_stability_index

WINDOW = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-30T00:00:00Z"}


def items(spec):
    """spec: {(age, gender): (approved, denied)} -> index items."""
    for (age, gender), (approved, denied) in spec.items():
        segments = {k: v for k, v in (("age_band", age), ("gender", gender)) if v is not None}
        yield from ({"outcome": "approve", "segments": segments} for _ in range(approved))
        yield from ({"outcome": "deny", "segments": segments} for _ in range(denied))


def report(spec, attributes=("age_band",), min_group_size=30):
    return fairness_report(
        items(spec),
        model_id="refund-decision",
        attributes=list(attributes),
        favourable="approve",
        min_group_size=min_group_size,
        window=WINDOW,
    )


def test_rates_impact_ratios_and_flags_follow_the_stated_conventions():
    r = report({("18-34", "f"): (70, 30), ("35-64", "m"): (60, 40), ("65+", "f"): (40, 60), (None, "m"): (5, 5)})
    rates = {g.group: g for g in r.groups}
    assert rates["18-34"].selection_rate == pytest.approx(0.7)
    assert rates["65+"].impact_ratio == pytest.approx(0.4 / 0.7)
    assert rates["65+"].flagged and not rates["35-64"].flagged
    assert r.most_favoured_group == "18-34"
    assert r.demographic_parity_difference == pytest.approx(0.3)
    assert r.flagged_groups == ["65+"]
    assert r.unknown == 10
    assert r.records == 310
    assert "four-fifths" in r.conventions["impact_ratio"]


def test_small_groups_are_reported_apart_and_do_not_set_the_reference():
    r = report({("18-34", "f"): (50, 50), ("65+", "f"): (5, 0)}, min_group_size=30)
    assert [g.group for g in r.groups] == ["18-34"]
    assert r.small_groups[0].group == "65+"
    assert r.small_groups[0].count == 5
    assert r.most_favoured_group == "18-34"


def test_intersections_combine_two_attributes():
    r = report({("65+", "f"): (40, 0), ("65+", "m"): (10, 30)}, attributes=("age_band", "gender"))
    assert {g.group for g in r.groups} == {"65+ | f", "65+ | m"}
    assert r.flagged_groups == ["65+ | m"]


def test_restricted_records_count_as_unknown():
    r = fairness_report(
        [{"outcome": "approve", "segments": {"age_band": "65+"}, "erasure_status": "restricted"}],
        model_id="m",
        attributes=["age_band"],
        favourable="approve",
        min_group_size=1,
        window=WINDOW,
    )
    assert r.unknown == 1
    assert r.groups == []


def test_population_stability_index():
    assert population_stability_index({"a": 50, "b": 50}, {"a": 50, "b": 50}) == 0
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert population_stability_index({"a": 90, "b": 10}, {"a": 50, "b": 50}) == pytest.approx(expected)


def test_attribution_report_ranks_features_and_shows_drift():
    now, before = AttributionTally(), AttributionTally()
    for _ in range(10):
        now.add({"outcome": "approve", "attributions": {"channel": -2.0, "order_value": 0.5}})
        before.add({"outcome": "deny", "attributions": {"channel": 0.1, "order_value": 1.0}})
    r = attribution_report("m", now, WINDOW, {"channel": "Contact channel"}, before, WINDOW)
    first = r.features[0]
    assert (first.feature, first.display_name, first.mean_abs_attribution, first.rank) == (
        "channel",
        "Contact channel",
        2.0,
        1,
    )
    assert first.rank_change == 1
    assert r.current.outcomes == {"approve": 10}
    assert r.outcome_psi > 0.25
