import pytest

from functions.domain.review_reports import ReviewTally, review_report


def case(status, *, created="2026-11-01T10:00:00.000Z", resolved=None, kind="appeal"):
    return {"decision_id": "x", "status": status, "kind": kind, "created_at": created, "resolved_at": resolved}


def decision(band=None, version="1.0.0"):
    return {"segments": {"age_band": band} if band else {}, "model_version": version}


def test_overturn_rates_ratios_and_flags_by_group():
    tally = ReviewTally(["age_band"])
    done = "2026-11-03T10:00:00.000Z"  # two days after filing
    for _ in range(4):
        tally.add(case("overturned", resolved=done), decision("65+"))
        tally.add(case("upheld", resolved=done), decision("18-24", "1.1.0"))
    tally.add(case("received", kind="referral"), decision("65+"))
    tally.add(case("upheld", resolved=done), None)  # the decision's record is gone
    report = review_report(tally, model_id="m", window={}, min_group_size=4)
    groups = {g.group: g for g in report.groups}
    assert report.cases == 10 and report.by_kind == {"appeal": 9, "referral": 1}
    assert report.overall.overturn_rate == pytest.approx(4 / 9)
    assert groups["65+"].cases == 5 and groups["65+"].resolved == 4
    assert groups["65+"].overturn_ratio == pytest.approx(9 / 4) and groups["65+"].flagged
    assert groups["18-24"].overturn_rate == 0 and not groups["18-24"].flagged
    assert groups["unknown"].resolved == 1 and groups["unknown"].overturn_rate is None  # under min_group_size
    assert report.flagged_groups == ["65+"] and report.groups[0].group == "65+"
    assert groups["65+"].median_days_to_verdict == pytest.approx(2)
    assert {v.group for v in report.by_model_version} == {"1.0.0", "1.1.0", "unknown"}


def test_no_resolved_case_gives_no_rate_and_no_flag():
    tally = ReviewTally(["age_band", "gender"])
    tally.add(case("in_review"), {"segments": {"age_band": "65+", "gender": "f"}})
    report = review_report(tally, model_id="m", window={}, min_group_size=1)
    (group,) = report.groups
    assert group.group == "65+ | f" and group.overturn_rate is None and report.flagged_groups == []
    assert report.overall.median_days_to_verdict is None


def test_the_monitor_judges_overturn_ratios_only_where_groups_have_enough_resolved_cases():
    from functions.domain.monitoring import review_check, violation_lines

    tally = ReviewTally(["age_band"])
    for _ in range(3):
        tally.add(case("overturned", resolved="2026-11-02T10:00:00.000Z"), decision("65+"))
        tally.add(case("upheld", resolved="2026-11-02T10:00:00.000Z"), decision("18-24"))
    check = review_check(review_report(tally, model_id="m", window={}, min_group_size=3), "overturn_ratio", 1.25)
    assert (check.status, check.violating_groups, check.value) == ("violated", ["65+"], pytest.approx(2))
    assert violation_lines([check]) == ["overturn_ratio of age_band (65+): 2.000 >= 1.25"]
    quiet = review_check(review_report(tally, model_id="m", window={}, min_group_size=4), "overturn_ratio", 1.25)
    assert quiet.status == "not_enough_data" and quiet.violating_groups == [] and quiet.value is None


def test_appeal_rates_need_enough_decisions_per_group_and_enough_cases_in_all():
    from functions.domain.monitoring import review_check

    tally = ReviewTally(["age_band"])
    for _ in range(4):
        tally.add(case("received"), decision("65+"))
    tally.add(case("received"), decision("18-24"))
    decisions = {"65+": 20, "18-24": 30}  # 4 cases in 20 decisions against 1 in 30: 5 in 50 overall
    report = review_report(tally, model_id="m", window={}, min_group_size=5, decisions=decisions)
    groups = {g.group: g for g in report.groups}
    assert groups["65+"].appeal_rate == pytest.approx(0.2) and groups["65+"].appeal_ratio == pytest.approx(2)
    assert groups["18-24"].decisions == 30 and groups["18-24"].appeal_ratio == pytest.approx(1 / 3)
    check = review_check(report, "appeal_ratio", 1.25)
    assert (check.status, check.violating_groups) == ("violated", ["65+"])
    few = review_report(tally, model_id="m", window={}, min_group_size=6, decisions=decisions)  # 5 cases < 6
    assert all(g.appeal_rate is None for g in few.groups)
    assert review_check(few, "appeal_ratio", 1.25).status == "not_enough_data"
