"""The call to the engine, the reference data searches are checked against, and the public shape
of results. The webapp talks to the search contract only through this module; what a search asks
(its parameters, checked) is ``webapp.search.request``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app
from flask_babel import gettext as _
from sqlalchemy import select

from indexer.engine import EngineUnavailable
from indexer.query import SearchQuery, SearchResult
from webapp.errors import json_error
from webapp.extensions import db
from webapp.reference.models import Field, Province, Ward
from webapp.reports.models import REPORT_TYPE_LABELS, STATUS_LABELS, ReportType, Status
from webapp.reports.public import public_item as item_json  # the one public view of a report
from webapp.reports.public import public_items  # the same, for many documents at once
from webapp.search.engines import get_engine


class ParamError(ValueError):
    """A search parameter that cannot be used: a stable code, a Vietnamese message, the field."""

    def __init__(self, code: str, message: str, field: str, status: int = 400,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
        self.status, self.retry_after = status, retry_after

    def response(self) -> tuple[Response, int]:
        """The JSON error answer of this parameter (400, or 429 with Retry-After for a spent budget)."""
        return json_error(self.code, self.message, self.status, self.field, retry_after=self.retry_after)


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


def result_json(query: SearchQuery, result: SearchResult) -> dict[str, Any]:
    return {
        "total": result.total,
        "total_exact": result.total_exact,
        "facets_exact": result.facets_exact,
        "page": query.page,
        "per_page": query.per_page,
        "sort": query.effective_sort,
        "any_words": result.any_words,
        "items": [item_json(h.doc, h.highlight) for h in result.hits],
        "facets": facets_json(result),
    }


__all__ = ["EngineUnavailable", "ParamError", "run_search", "result_json",
           "item_json", "public_items", "facets_json", "reference", "unavailable_message", "UNAVAILABLE_CODE"]
