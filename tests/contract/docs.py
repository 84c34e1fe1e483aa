"""Documents for the contract suite, shaped like ``indexer.documents.build_document`` output."""

from __future__ import annotations

from typing import Any


def doc(doc_id: int, title: str, content: str = "", **values: Any) -> dict[str, Any]:
    day = values.pop("day", 1 + doc_id % 28)
    month = values.pop("month_no", 3)
    d = {
        "id": doc_id, "revision": 1, "code": f"PA-TEST-{doc_id:04d}", "type": "pakn",
        "title": title, "content": content or title, "address": "", "answer": "", "answer_unit": None,
        "sender_kind": "individual", "sender_name": "Nguyễn Văn An", "sender_phone": "0912345678",
        "field": "giao-thong", "field_name": "Giao thông", "ward_code": 25708, "ward": "Phường Trảng Bàng",
        "province_code": 80, "province": "Tây Ninh", "legacy_place": None, "legacy_wards": [],
        "status": "answered",
        "submitted_at": f"2025-{month:02d}-{day:02d}T03:00:00+00:00", "published_at": None,
        "month": f"2025-{month:02d}", "location": None,
    }
    d.update(values)
    return d
