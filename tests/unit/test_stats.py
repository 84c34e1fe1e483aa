"""The statistics' arithmetic: median, on-time rate, ranks, groups too small to rate, accumulation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.stats.services import (
    MIN_GROUP_SIZE,
    Accumulator,
    AnswerRow,
    Timeliness,
    assign_ranks,
    chunks,
    median,
    median_days,
    month_range,
    on_time_rate,
)

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
DAY = 86400


@pytest.mark.parametrize(("values", "expected"), [
    ([], None), ([7], 7.0), ([3, 1, 2], 2.0), ([4, 1, 3, 2], 2.5), ([5, 5, 5, 100], 5.0), ([1.5, 2.5], 2.0),
])
def test_median(values, expected):
    assert median(values) == expected


def test_on_time_rate_needs_the_minimum_group_size():
    assert MIN_GROUP_SIZE == 20
    assert on_time_rate(19, 19) is None
    assert on_time_rate(15, 20) == 0.75
    assert on_time_rate(2, 3) is None and on_time_rate(2, 3, minimum=3) == 0.6667
    assert on_time_rate(0, 0, minimum=0) is None  # never a division by zero


def test_median_days_in_calendar_days_with_one_decimal():
    assert median_days([DAY * 3 // 2] * 20, 20) == 1.5
    assert median_days([DAY, DAY * 2], 2, minimum=2) == 1.5
    assert median_days([DAY] * 19, 19) is None
    assert median_days([3600] * 20, 20) == 0.0


def group(key, on_time, with_deadline, answered=None):
    return {"key": key, "on_time": on_time, "with_deadline": with_deadline,
            "on_time_rate": on_time_rate(on_time, with_deadline), "answered": answered or with_deadline}


def test_ranks_order_rated_groups_by_rate_and_equal_rates_share_a_rank():
    groups = [group("a", 15, 20), group("b", 20, 20), group("c", 30, 40), group("d", 19, 19), group("e", 10, 40)]
    assign_ranks(groups)
    assert {g["key"]: g["rank"] for g in groups} == {"a": 2, "b": 1, "c": 2, "d": None, "e": 4}


def test_ranks_compare_exact_rates_not_rounded_ones():
    groups = [group("a", 2, 3), group("b", 20001, 30000)]  # 0.66667 < 0.66670, both shown as 0.6667
    groups[0]["on_time_rate"] = on_time_rate(2, 3, minimum=1)
    assign_ranks(groups)
    assert groups[0]["on_time_rate"] == groups[1]["on_time_rate"] == 0.6667
    assert (groups[0]["rank"], groups[1]["rank"]) == (2, 1)


def test_a_group_under_the_threshold_has_no_figures_and_says_why():
    small, big, undated = Timeliness(), Timeliness(), Timeliness()
    for _i in range(19):
        small.add(T0, T0 + timedelta(days=1), T0 + timedelta(days=2))
    for i in range(20):
        big.add(T0, T0 + timedelta(days=i + 1), T0 + timedelta(days=10))
        undated.add(T0, T0 + timedelta(days=2), None if i else T0 + timedelta(days=3))
    assert small.as_json(1, "Nhỏ") == {
        "key": 1, "label": "Nhỏ", "answered": 19, "with_deadline": 19, "on_time": 19, "on_time_rate": None,
        "median_days": None, "too_few": True, "too_few_deadlines": False}
    big_json = big.as_json(2, "Lớn")
    assert (big_json["on_time"], big_json["on_time_rate"], big_json["median_days"]) == (10, 0.5, 10.5)
    assert big_json["too_few"] is False
    # Enough answers for a median, too few with a deadline for a rate.
    assert undated.as_json(3, "Cũ") == {
        "key": 3, "label": "Cũ", "answered": 20, "with_deadline": 1, "on_time": 1, "on_time_rate": None,
        "median_days": 2.0, "too_few": False, "too_few_deadlines": True}


def test_published_exactly_at_the_deadline_is_on_time():
    t = Timeliness()
    t.add(T0, T0 + timedelta(days=5), T0 + timedelta(days=5))
    t.add(T0, T0 + timedelta(days=5, seconds=1), T0 + timedelta(days=5))
    assert (t.answered, t.with_deadline, t.on_time) == (2, 2, 1)


def doc(report_id, field="giao-thong", ward=25708, status="answered", month="2026-01"):
    return {"id": report_id, "field": field, "field_name": field.title(), "ward_code": ward,
            "ward": f"Phường {ward}" if ward else None, "status": status, "month": month}


def row(report_id, unit, days, deadline_days=3.0):
    return AnswerRow(report_id, unit, f"Đơn vị {unit}", T0 + timedelta(days=days), T0,
                     T0 + timedelta(days=deadline_days) if deadline_days is not None else None)


def test_accumulator_counts_documents_and_takes_first_answers():
    acc = Accumulator()
    docs = {1: doc(1), 2: doc(2, field="dien", ward=None, month="2025-11", status="processing"), 3: doc(3)}
    for d in docs.values():
        acc.add_doc(d)
    acc.add_answers(docs, [
        row(1, 10, 5), row(1, 10, 2),  # unit 10's first answer (day 2) is the one that counts
        row(1, 11, 4),                 # unit 11 answered the same report later: late for unit 11
        row(3, 11, 1, None),           # no deadline: counted, no on-time verdict
        row(99, 10, 1),                # a report not among the documents: ignored
    ])
    body = acc.result(status_label=str.upper, no_ward="Chưa gắn xã, phường")
    assert body["total"] == 3
    assert [(r["key"], r["count"]) for r in body["by_field"]] == [("giao-thong", 2), ("dien", 1)]
    assert [(r["key"], r["label"]) for r in body["by_ward"]] == [(25708, "Phường 25708"), (None, "Chưa gắn xã, phường")]
    assert [(r["key"], r["label"]) for r in body["by_status"]] == [("processing", "PROCESSING"), ("answered", "ANSWERED")]
    assert [(r["key"], r["count"]) for r in body["by_month"]] == [("2025-11", 1), ("2025-12", 0), ("2026-01", 2)]
    t = body["timeliness"]
    units = {g["key"]: g for g in t["by_unit"]}
    assert (units[10]["answered"], units[10]["on_time"]) == (1, 1)
    assert (units[11]["answered"], units[11]["with_deadline"], units[11]["on_time"]) == (2, 1, 0)
    assert (t["overall"]["answered"], t["overall"]["with_deadline"], t["overall"]["on_time"]) == (2, 1, 1)
    assert {g["key"]: g["answered"] for g in t["by_field"]} == {"giao-thong": 2}
    assert all(g["too_few"] and g["rank"] is None for g in t["by_unit"] + t["by_field"] + t["by_ward"])


def test_month_range_fills_gaps_across_years():
    assert month_range([]) == []
    assert month_range(["2026-02", "2025-11"]) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert month_range(["2026-02"]) == ["2026-02"]


def test_chunks_keep_every_document_once():
    out = list(chunks(({"id": i} for i in range(1, 1202)), size=500))
    assert [len(c) for c in out] == [500, 500, 201]
    assert sorted(k for c in out for k in c) == list(range(1, 1202))
