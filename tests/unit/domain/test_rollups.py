"""Rollups, pure parts: which hours and days a window reads from rollups, what a stream record adds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.reports import FairnessTally, fairness_report, fairness_report_of
from functions.domain.rollups import (
    DAY,
    HOUR,
    ModelTotals,
    RollupKey,
    Span,
    appeal_contribution,
    completion_contribution,
    decision_contribution,
    fairness_counts,
    plan_window,
)

T0 = datetime(2026, 11, 27, tzinfo=UTC)
MS = timedelta(milliseconds=1)
LATER = T0 + timedelta(days=400)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_window_splits_into_edges_whole_hours_and_whole_days():
    plan = plan_window(at(9.5), at(24 * 3 + 5.25), settled_before=LATER, since=None)
    assert plan.spans == [
        Span(HOUR, "2026-11-27T10", "2026-11-27T23"),
        Span(DAY, "2026-11-28", "2026-11-29"),
        Span(HOUR, "2026-11-30T00", "2026-11-30T04"),
    ]
    assert plan.edges == [(at(9.5), at(10) - MS), (at(24 * 3 + 5), at(24 * 3 + 5.25))]


def test_hours_not_settled_or_before_the_rollups_began_come_from_the_index():
    plan = plan_window(at(0), at(10), settled_before=at(6.2), since=at(2.5))
    assert plan.spans == [Span(HOUR, "2026-11-27T03", "2026-11-27T05")]
    assert plan.edges == [(at(0), at(3) - MS), (at(6), at(10))]
    assert plan_window(at(1.1), at(1.9), settled_before=LATER, since=None).spans == []


@given(
    start=st.integers(0, 24 * 60 * 5),
    length=st.integers(0, 24 * 60 * 5),
    settle=st.integers(0, 24 * 60 * 12),
)
def test_spans_and_edges_cover_the_window_exactly_once(start, length, settle):
    begin, end = T0 + timedelta(minutes=start, milliseconds=7), T0 + timedelta(minutes=start + length)
    if end < begin:
        return
    plan = plan_window(begin, end, settled_before=T0 + timedelta(minutes=settle), since=None)
    pieces = list(plan.edges)
    for span in plan.spans:
        step = timedelta(hours=1) if span.granularity == HOUR else timedelta(days=1)
        fmt = "%Y-%m-%dT%H" if span.granularity == HOUR else "%Y-%m-%d"
        first = datetime.strptime(span.first, fmt).replace(tzinfo=UTC)
        last = datetime.strptime(span.last, fmt).replace(tzinfo=UTC)
        assert first <= last
        pieces.append((first, last + step - MS))
    pieces.sort()
    assert pieces[0][0] == begin and pieces[-1][1] == end
    for (_, a_end), (b_start, _) in itertools.pairwise(pieces):
        assert b_start == a_end + MS  # no gap, no overlap


def item(**extra):
    return {
        "decision_id": "d1",
        "model_id": "m",
        "decided_at": "2026-11-27T10:15:00.000Z",
        "outcome": "approve",
        "notice_id": "eu-en",
        "explanation_status": "complete",
        "attributions": {"amount": Decimal("-0.5"), "tenure": Decimal("0.25")},
        "segments": {"age_band": "65+", "gender": "f", "region": "north"},
        **extra,
    }


def test_a_decision_adds_to_its_hour_and_day_for_the_model_each_attribute_and_configured_pairs():
    contribution = decision_contribution(item(), [("age_band", "gender"), ("age_band", "income")])
    assert contribution.marker == RollupKey("counted#d1", "decision")
    hour = contribution.increments[RollupKey('["m","H","2026-11-27"]', "2026-11-27T10")]
    assert hour == {
        "n": 1, "o:approve": 1, "x:complete": 1, "notices": 1,
        "abs:amount": Decimal("0.5"), "sum:amount": Decimal("-0.5"),
        "abs:tenure": Decimal("0.25"), "sum:tenure": Decimal("0.25"),
    }  # fmt: skip
    groups = {(k.pk, k.sk) for k in contribution.increments} - {
        ('["m","H","2026-11-27"]', "2026-11-27T10"),
        ('["m","D"]', "2026-11-27"),
    }
    assert ('["m","D","age_band","gender"]', '2026-11-27#["65+","f"]') in groups
    assert ('["m","H","2026-11-27","region"]', '2026-11-27T10#["north"]') in groups
    assert len(groups) == 2 * 4  # three attributes and the one configured pair present, hour and day
    assert all(v == {"n": 1, "o:approve": 1} for k, v in contribution.increments.items() if "#" in k.sk)


def test_only_a_completion_changes_anything_after_the_insert():
    pending = item(explanation_status="pending", attributions={})
    done = {**pending, "completion_sha256": "ab", "explanation_status": "complete", "attributions": {"a": 1.5}}
    contribution = completion_contribution(pending, done)
    assert contribution is not None and contribution.marker.sk == "explained"
    hour = contribution.increments[RollupKey('["m","H","2026-11-27"]', "2026-11-27T10")]
    assert hour == {"x:pending": -1, "x:complete": 1, "abs:a": Decimal("1.5"), "sum:a": Decimal("1.5")}
    erased = {k: v for k, v in done.items() if k != "segments"} | {"erasure_status": "erased"}
    assert completion_contribution(done, erased) is None  # an erasure: nothing taken back
    assert completion_contribution(item(), {**item(), "legal_hold": True}) is None


def test_an_appeal_counts_in_the_hour_it_was_filed():
    contribution = appeal_contribution(
        {"decision_id": "d1", "model_id": "m", "created_at": "2026-11-28T01:02:03Z", "status": "received"}
    )
    assert contribution.marker.sk == "appeal"
    assert contribution.increments == {
        RollupKey('["m","H","2026-11-28"]', "2026-11-28T01"): {"ap:received": 1},
        RollupKey('["m","D"]', "2026-11-28"): {"ap:received": 1},
    }


def test_a_referral_counts_apart_from_the_customers_appeals():
    referral = {"decision_id": "d2", "model_id": "m", "created_at": "2026-11-28T01:02:03Z", "status": "received"}
    referred = appeal_contribution({**referral, "kind": "referral"}).increments
    appealed = appeal_contribution({**referral, "kind": "appeal"}).increments
    assert len(referred) == 2 and all(counts == {"ap:referred": 1} for counts in referred.values())
    assert len(appealed) == 2 and all(counts == {"ap:received": 1} for counts in appealed.values())


def _rolled_up(items, pair):
    """The rollup items the contributions of `items` would leave (one granularity), as the store returns them."""
    totals: dict[str, dict] = {}
    groups: dict[str, dict] = {}
    for source in items:
        for key, increments in decision_contribution(source, [pair]).increments.items():
            if '"H"' not in key.pk:
                continue
            if key.pk == '["m","H","2026-11-27"]':
                target = totals
            elif key.pk == '["m","H","2026-11-27",' + ",".join(f'"{a}"' for a in pair) + "]":
                target = groups
            else:
                continue
            bucket = target.setdefault(key.sk, {"sk": key.sk})
            for name, value in increments.items():
                bucket[name] = bucket.get(name, 0) + value
    return list(totals.values()), list(groups.values())


@pytest.mark.parametrize("attributes", [["gender", "age_band"], ["age_band", "gender"]])
def test_fairness_from_rollup_items_equals_the_pass_over_the_items(attributes):
    items = [
        item(decision_id=f"d{n}", outcome="approve" if n % 3 else "deny",
             segments={"age_band": "18-24" if n % 2 else "65+", "gender": "fm"[n % 5 > 1]} if n % 7 else {})
        for n in range(200)
    ]  # fmt: skip
    totals, groups = _rolled_up(items, ("age_band", "gender"))
    tally = FairnessTally(attributes, "approve")
    tally.add_counts(*fairness_counts(totals, groups, attributes, "approve"))
    rolled = fairness_report_of(tally, model_id="m", min_group_size=10, window={})
    streamed = fairness_report(
        items, model_id="m", attributes=attributes, favourable="approve", min_group_size=10, window={}
    )
    assert rolled == streamed and rolled.unknown > 0


def test_model_totals_sum_counters_by_label():
    totals = ModelTotals.of(
        [
            {"n": Decimal(3), "notices": Decimal(2), "o:approve": Decimal(2), "o:deny": Decimal(1),
             "abs:a": Decimal("1.5"), "ap:received": Decimal(1), "x:pending": Decimal(0)},
            {"n": Decimal(1), "o:deny": Decimal(1), "abs:a": Decimal("0.5"), "abs:b": Decimal(2)},
        ]
    )  # fmt: skip
    assert (totals.records, totals.notices) == (4, 2)
    assert totals.outcomes == {"approve": 2, "deny": 2}
    assert totals.abs_attributions == {"a": 2.0, "b": 2.0}
    assert totals.appeals == {"received": 1} and totals.explanations == {"pending": 0}


def test_hours_across_midnight_are_read_one_day_partition_at_a_time():
    plan = plan_window(at(21), at(27) - MS, settled_before=LATER, since=None)
    assert plan.spans == [Span(HOUR, "2026-11-27T21", "2026-11-27T23"), Span(HOUR, "2026-11-28T00", "2026-11-28T02")]
    assert plan.edges == []


@pytest.mark.parametrize(
    "segments",
    [
        {"age_band": "65+", "gender": "f", "region": "jane.doe@example.org"},  # a value redaction finds personal
        {"age_band": "65+", "gender": "f", "+44 20 7946 0958": "north"},  # an attribute name: the same
    ],
)
def test_a_segment_holding_personal_data_is_not_rolled_up_for_good(segments):
    contribution = decision_contribution(item(segments=segments), [("age_band", "gender")])
    kept = {k.pk for k in contribution.increments}
    assert not any("example.org" in text or "7946" in text for k in contribution.increments for text in (k.pk, k.sk))
    assert '["m","D","age_band"]' in kept and '["m","D","age_band","gender"]' in kept  # the categories still count
    assert len({k for k in kept if '"D"' in k}) == 4  # the model, age band, gender and the pair: not the third


def test_a_zero_attribution_is_a_plain_zero_not_an_exponent():
    # A feature the model never splits on is attributed exactly 0; DynamoDB numbers are sent as text.
    contribution = decision_contribution(item(attributions={"x": 0.0, "y": -0.0, "z": 1e-12}), [])
    for increments in contribution.increments.values():
        for name, value in increments.items():
            if name.startswith(("abs:", "sum:")):
                assert "E" not in str(value).upper(), (name, value)
