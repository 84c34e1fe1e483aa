"""Shared by the benchmarks: realistic generated reports (as search documents or table rows)."""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.demo.seed import (  # noqa: E402
    FAMILY,
    GIVEN_F,
    GIVEN_M,
    IDEA_TEMPLATES,
    MIDDLE_F,
    MIDDLE_M,
    PAKN_TEMPLATES,
    STREETS,
)

FIELDS = list(PAKN_TEMPLATES)
STATUSES = ["pending", "accepted", "processing", "answered", "closed", "rejected"]
WARDS = list(range(25450, 25450 + 96 * 3, 3))
UNTIL = datetime(2026, 11, 20, tzinfo=UTC)

# Keyword queries a journalist or citizen types, with and without diacritics, with facets.
QUERIES = ["ngập nước", "ngap nuoc", "mất điện", "mat dien", "rác thải", "ổ gà", "đèn tín hiệu",
           "karaoke", "giấy chứng nhận", "lạm thu", "trạm y tế", "đua xe", "nắp cống",
           "hùng vương", "nuwowcs", "cay xanh", "xe tải", "ô nhiễm", "trễ hẹn", "vỡ đường ống"]


def documents(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(1, n + 1):
        field = rng.choice(FIELDS)
        idea = rng.random() < 0.15
        street = rng.choice(STREETS)
        ward = rng.choice(WARDS)
        fill = {"street": street, "ward": f"xã Số {ward}", "n": rng.randint(1, 450), "days": rng.randint(3, 30)}
        title, content = rng.choice(IDEA_TEMPLATES if idea else PAKN_TEMPLATES[field])
        when = UNTIL - timedelta(days=rng.uniform(0, 3 * 365))
        given = rng.choice(GIVEN_M + GIVEN_F)
        middle = rng.choice(MIDDLE_M + MIDDLE_F)
        yield {
            "id": i, "revision": 1, "code": f"PA-{i:08d}"[:12], "type": "idea" if idea else "pakn",
            "title": title.format(**fill), "content": content.format(**fill),
            "address": f"Số {fill['n']} đường {street}", "answer": "", "answer_unit": None,
            "sender_kind": "individual", "sender_name": f"{rng.choice(FAMILY)} {middle} {given}",
            "sender_phone": f"09{rng.randint(0, 99999999):08d}", "field": field, "field_name": field,
            "ward_code": ward, "ward": f"Xã {ward}", "province_code": 80, "province": "Tây Ninh",
            "legacy_place": None, "status": rng.choice(STATUSES), "submitted_at": when.isoformat(),
            "published_at": None, "month": when.strftime("%Y-%m"), "location": None,
        }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def load_now() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """CPU model, cores, Python and the load average (1, 5, 15 min) now."""
    model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"{model}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
            f"load {load_now()}")


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    """Median of the runs, with every run's value."""
    return (f"{statistics.median(values):.{digits}f} {unit} "
            f"(runs {', '.join(f'{v:.{digits}f}' for v in values)})")
