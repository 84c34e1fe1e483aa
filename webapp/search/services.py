"""Search parameters (checked once for the page and the API), the call to the engine, and the
public shape of results. The webapp talks to the search contract only through this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from indexer.engine import EngineUnavailable
from indexer.query import MAX_PER_PAGE, SORTS, SearchQuery, SearchResult, plain_excerpt
from indexer.text import mask_phone, nfc, normalize_phone
from webapp.errors import json_error
from webapp.extensions import db
from webapp.reference.models import Field, Province, Ward
from webapp.reports.models import REPORT_TYPE_LABELS, STATUS_LABELS, ReportType, Status
from webapp.search.engines import get_engine

MAX_QUERY_LENGTH = 200
# Results reachable by paging (Elasticsearch's default index.max_result_window; huge offsets also
# overflow SQLite). Nobody reads further page by page; the exports give every result.
MAX_RESULTS = 10_000
# Dates outside these years are typing mistakes, and the far ends overflow date arithmetic.
MIN_YEAR, MAX_YEAR = 1900, 2999
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ParamError(ValueError):
    """A search parameter that cannot be used: a stable code, a Vietnamese message, the field."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field

    def response(self) -> tuple[Response, int]:
        """The JSON error answer (400) of this parameter."""
        return json_error(self.code, self.message, 400, self.field)


@dataclass(frozen=True)
class Reference:
    """Fields and the deployment's regions, loaded once per app (they change only by migration)."""

    fields: dict[str, str]               # slug → name, in display order
    provinces: dict[int, str]            # deployment provinces: code → name
    wards: dict[int, tuple[str, int]]    # code → (name, province code), deployment wards only


def reference() -> Reference:
    cached = current_app.extensions.get("pakn_reference")
    if cached is None:
        codes = [int(c) for c in current_app.config["PROVINCES"]]
        fields = {f.slug: f.name for f in db.session.scalars(select(Field).order_by(Field.position))}
        provinces = {p.code: p.name for p in db.session.scalars(
            select(Province).where(Province.code.in_(codes)).order_by(Province.code))}
        wards = {w.code: (w.name, w.province_code) for w in db.session.scalars(
            select(Ward).where(Ward.province_code.in_(codes)).order_by(Ward.name))}
        cached = Reference(fields, provinces, wards)
        current_app.extensions["pakn_reference"] = cached
    return cached


def _values(source: Mapping[str, Any], key: str) -> list[str]:
    """All values of a parameter: repeated query args, a JSON list, or one value."""
    if hasattr(source, "getlist"):
        raw: list[Any] = source.getlist(key)
    else:
        value = source.get(key)
        raw = value if isinstance(value, list) else ([] if value is None else [value])
    out = []
    for item in raw:
        text = str(item).strip()
        if text:
            out.extend(part.strip() for part in text.split(",") if part.strip())
    return out


def _one(source: Mapping[str, Any], key: str) -> str:
    values = _values(source, key)
    return values[0] if values else ""


def _int(source: Mapping[str, Any], key: str, default: int) -> int:
    text = _one(source, key)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ParamError("invalid_parameter", _("'%(key)s' phải là số nguyên.", key=key), key) from None


def _local_day(text: str, key: str) -> date:
    if not _DATE.match(text):
        raise ParamError("bad_date", _("Ngày '%(value)s' không hợp lệ; dùng dạng NĂM-THÁNG-NGÀY, ví dụ 2025-03-31.",
                                       value=text), key)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ParamError("bad_date", _("Ngày '%(value)s' không tồn tại.", value=text), key) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ParamError("bad_date", _("Ngày '%(value)s' nằm ngoài khoảng năm %(start)d–%(end)d.", value=text,
                                       start=MIN_YEAR, end=MAX_YEAR), key)
    return day


def parse_params(source: Mapping[str, Any], allow_phone: bool = False) -> SearchQuery:
    """Check search parameters (query args, a form or a JSON body) into a ``SearchQuery``."""
    ref = reference()
    query = SearchQuery()
    raw_q = source.get("q") or ""
    if not isinstance(raw_q, str):
        raise ParamError("invalid_parameter", _("'q' phải là chuỗi ký tự."), "q")
    query.q = nfc(raw_q)
    if len(query.q) > MAX_QUERY_LENGTH:
        raise ParamError("query_too_long", _("Nội dung tìm kiếm dài quá %(n)d ký tự.", n=MAX_QUERY_LENGTH), "q")

    if allow_phone:
        phone = source.get("phone") or ""
        if phone and not isinstance(phone, str):
            raise ParamError("invalid_phone", _("Số điện thoại không hợp lệ."), "phone")
        if phone:
            normalized = normalize_phone(phone)
            if normalized is None:
                raise ParamError("invalid_phone", _("Số điện thoại không hợp lệ."), "phone")
            query.phone = normalized

    for value in _values(source, "region"):
        if not value.isdigit():
            raise ParamError("unknown_region", _("Địa bàn '%(value)s' không tồn tại.", value=value), "region")
        code = int(value)
        if code in ref.provinces:
            query.provinces.append(code)
        elif code in ref.wards:
            query.wards.append(code)
        else:
            raise ParamError("unknown_region", _("Địa bàn '%(value)s' không tồn tại.", value=value), "region")
    for value in _values(source, "field"):
        if value not in ref.fields:
            raise ParamError("unknown_field", _("Lĩnh vực '%(value)s' không tồn tại.", value=value), "field")
        query.fields.append(value)
    for value in _values(source, "type"):
        if value not in (ReportType.PAKN, ReportType.IDEA):
            raise ParamError("invalid_parameter", _("Loại '%(value)s' không hợp lệ (pakn hoặc idea).", value=value), "type")
        query.types.append(value)
    valid_statuses = {s.value for s in Status}
    for value in _values(source, "status"):
        if value not in valid_statuses:
            raise ParamError("invalid_parameter", _("Trạng thái '%(value)s' không hợp lệ.", value=value), "status")
        query.statuses.append(value)

    tz = ZoneInfo(current_app.config["TIMEZONE"])
    start = _one(source, "from")
    end = _one(source, "to")
    day_from = _local_day(start, "from") if start else None
    day_to = _local_day(end, "to") if end else None
    if day_from and day_to and day_from > day_to:
        raise ParamError("date_range", _("Ngày bắt đầu phải trước hoặc bằng ngày kết thúc."), "from")
    if day_from:
        query.date_from = datetime.combine(day_from, time.min, tz)
    if day_to:
        query.date_to = datetime.combine(day_to + timedelta(days=1), time.min, tz)  # inclusive day

    sort = _one(source, "sort")
    if sort and sort not in SORTS:
        raise ParamError("invalid_parameter", _("Cách sắp xếp '%(value)s' không hợp lệ.", value=sort), "sort")
    query.sort = sort
    query.page = _int(source, "page", 1)
    if query.page < 1:
        raise ParamError("invalid_parameter", _("Số trang phải từ 1 trở lên."), "page")
    query.per_page = _int(source, "per_page", current_app.config["PAGE_SIZE"])
    if query.per_page < 1 or query.per_page > MAX_PER_PAGE:
        raise ParamError("per_page_too_large" if query.per_page > MAX_PER_PAGE else "invalid_parameter",
                         _("Số kết quả mỗi trang phải từ 1 đến %(n)d.", n=MAX_PER_PAGE), "per_page")
    if query.page * query.per_page > MAX_RESULTS:
        raise ParamError("page_too_deep", _("Chỉ xem được %(n)d kết quả đầu tiên theo trang; hãy lọc hẹp hơn "
                                            "hoặc tải tệp xuất (CSV, JSON).", n=MAX_RESULTS), "page")
    return query


def run_search(query: SearchQuery) -> SearchResult:
    """Search through the contract; raises ``EngineUnavailable`` when the engine is away."""
    return get_engine().search(query)


UNAVAILABLE_CODE = "search_unavailable"


def unavailable_message() -> str:
    return _("Hệ thống tìm kiếm đang tạm thời gián đoạn. Phản ánh của bạn vẫn được lưu đầy đủ; "
             "vui lòng thử tìm lại sau ít phút.")


# -- public shapes ----------------------------------------------------------------------------------
def month_label(value: str) -> str:
    year, month = value.split("-")
    return f"{month}/{year}"


def facet_labels(name: str, value: str) -> str:
    ref = reference()
    if name == "field":
        return ref.fields.get(value, value)
    if name == "region":
        ward = ref.wards.get(int(value)) if value.isdigit() else None
        return ward[0] if ward else value
    if name == "status":
        return str(STATUS_LABELS[Status(value)]) if value in {s.value for s in Status} else value
    if name == "type":
        return str(REPORT_TYPE_LABELS[ReportType(value)]) if value in ("pakn", "idea") else value
    if name == "month":
        return month_label(value)
    return value


def facets_json(result: SearchResult) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, buckets in result.facets.items():
        entries = [{"value": value, "label": facet_labels(name, value), "count": count}
                   for value, count in buckets]
        if name == "month":
            entries.sort(key=lambda e: e["value"], reverse=True)
        out[name] = entries
    return out


def excerpt(hit_doc: dict[str, Any], highlight: dict[str, str]) -> str:
    for key in ("content", "answer", "address"):
        if highlight.get(key):
            return highlight[key]
    return plain_excerpt(hit_doc.get("content") or "")


def item_json(doc: dict[str, Any], highlight: dict[str, str] | None = None) -> dict[str, Any]:
    """The public view of a search document (no more than the document builder let in)."""
    highlight = highlight or {}
    status = doc["status"]
    public_sender = "sender_name" in doc and doc.get("sender_name")
    return {
        "code": doc["code"],
        "type": doc["type"],
        "title": doc["title"],
        "excerpt": excerpt(doc, highlight),
        "field": {"slug": doc["field"], "name": doc["field_name"]},
        "region": {"ward_code": doc.get("ward_code"), "ward": doc.get("ward"),
                   "province_code": doc["province_code"], "province": doc["province"],
                   "legacy_place": doc.get("legacy_place")},
        "address": doc.get("address") or None,
        "status": {"code": status, "label": facet_labels("status", status)},
        "submitted_at": doc["submitted_at"],
        "sender": {"kind": doc.get("sender_kind"), "name": doc["sender_name"]} if public_sender else None,
        "phone_masked": mask_phone(doc["sender_phone"]) if doc.get("sender_phone") else None,
        "answer": ({"unit": doc.get("answer_unit"), "text": doc["answer"]} if doc.get("answer") else None),
        "url": url_for("reports.public_report", code=doc["code"], _external=True),
    }


def result_json(query: SearchQuery, result: SearchResult) -> dict[str, Any]:
    return {
        "total": result.total,
        "page": query.page,
        "per_page": query.per_page,
        "sort": query.effective_sort,
        "any_words": result.any_words,
        "items": [item_json(h.doc, h.highlight) for h in result.hits],
        "facets": facets_json(result),
    }


__all__ = ["EngineUnavailable", "ParamError", "parse_params", "run_search", "result_json",
           "item_json", "facets_json", "reference", "unavailable_message", "UNAVAILABLE_CODE"]
