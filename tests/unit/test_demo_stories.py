"""Demo data a journalist would believe (issue 16, 9): checked over 3,000 generated reports,
without the web app (webapp/demo/stories.py is pure)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from vietnam_provinces import Ward

from webapp.demo.seed import FIELD_UNITS
from webapp.demo.stories import (
    DEMO_UNTIL,
    OPEN_FOR_AT_MOST,
    PROBLEMS,
    REORGANISED,
    doubled_word,
    stories,
)

CROSSWALK = Path(__file__).resolve().parents[2] / "migrations" / "data" / "legacy_crosswalk.json"
N = 3000


@pytest.fixture(scope="module")
def setup():
    wards = sorted((w.code.value, " ".join(w.name.split())) for w in Ward.iter_all() if w.province_code.value == 80)
    legacy: dict[str, set[int]] = {}
    for entry in json.loads(CROSSWALK.read_text(encoding="utf-8")):
        if entry["province_code"] == 80:
            legacy.setdefault(entry["name"], set()).update(entry["wards"])
    return wards, legacy


@pytest.fixture(scope="module")
def reports(setup):
    wards, legacy = setup
    return stories(N, 2026, wards, legacy)


def test_deterministic_per_seed(setup, reports):
    wards, legacy = setup
    assert stories(N, 2026, wards, legacy) == reports
    assert stories(50, 7, wards, legacy) != reports[:50]


def test_no_doubled_words(reports):
    assert doubled_word("Đường Đường tỉnh 782") == "Đường Đường"
    for r in reports:
        for text in (r.title, r.content, r.address):
            assert doubled_word(text) is None, text


def test_content_names_the_reports_own_place_and_field_agrees(setup, reports):
    wards, legacy = setup
    names = dict(wards)
    problems = {p.key: p for p in PROBLEMS}
    for r in reports:
        place = r.legacy_place or names[r.ward_code]
        assert place[:1].lower() + place[1:] in r.content or place in r.address
        assert r.address.endswith(place)
        # a commune has hamlets (ấp), a ward has quarters (khu phố)
        urban = place.startswith(("Phường ", "Thị xã ", "Thành phố "))
        assert ("khu phố" in r.address) == urban and ("ấp " in r.address) != urban, r.address
        # no other ward of the province named in the text
        others = [n for c, n in wards if c != r.ward_code and n != place and len(n) > 8
                  and (n in r.content or n[:1].lower() + n[1:] in r.content)]
        assert not others, (r.content, others)
        assert r.field == problems[r.problem].field and r.field in FIELD_UNITS
        assert (r.type == "idea") == problems[r.problem].idea
    # a bus route is a transport matter, never "Điện"
    assert {r.field for r in reports if "xe buýt" in r.title} == {"giao-thong"}


def test_seasons(reports):
    local_month = [((r.submitted_at + timedelta(hours=7)).month, r.problem) for r in reports]
    assert all(m in (5, 6, 7, 8, 9, 10, 11) for m, p in local_month if p == "ngap")
    assert all(m in (8, 9) for m, p in local_month if p == "lam-thu")


def test_realistic_repetition(reports):
    problems = Counter(r.problem for r in reports)
    top = problems.most_common()
    assert top[0][1] / N < 0.15                       # no single problem dominates
    assert sum(n for _, n in top[:6]) / N > 0.4       # a few recurring problems
    assert len(problems) >= 30                        # and a long tail
    titles = Counter(r.title for r in reports)
    assert titles.most_common(1)[0][1] <= 30          # not the same dozen titles hundreds of times
    assert len(titles) > N * 0.6


def test_age_consistent_with_status(reports):
    for r in reports:
        if DEMO_UNTIL - r.submitted_at > OPEN_FOR_AT_MOST:
            assert r.final in {"answered", "closed", "rejected", "duplicate"}, r
    assert any(r.final == "processing" for r in reports)
    assert any(r.final == "pending" for r in reports)


def test_old_place_names_only_before_july_2025(setup, reports):
    _wards, legacy = setup
    named = [r for r in reports if r.legacy_place]
    assert len(named) > 50
    for r in named:
        assert r.submitted_at < REORGANISED
        assert r.ward_code in legacy[r.legacy_place]  # the former district its ward came from
