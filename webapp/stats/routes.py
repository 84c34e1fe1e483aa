"""Statistics (Thống kê): the page and GET /api/v1/stats, over Tra cứu's public filters."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from webapp.errors import json_error
from webapp.reports.models import REPORT_TYPE_LABELS, STATUS_LABELS
from webapp.search import services as search
from webapp.search.request import FILTER_PARAMS, SearchRequest
from webapp.search.services import EngineUnavailable, ParamError
from webapp.stats import services

bp = Blueprint("stats", __name__)


def _filters(surface: str) -> SearchRequest:
    """The search filters of the request, nothing else (page and sort are ignored, a phone refused)."""
    return SearchRequest.from_args(request.args, FILTER_PARAMS, surface=surface)


@bp.get("/thong-ke")
def index():
    filters = _filters("page")
    params = filters.params()
    context = {
        "params": params, "ref": search.reference(), "error": None, "unavailable": None, "stats": None,
        "status_labels": {k.value: v for k, v in STATUS_LABELS.items()},
        "type_labels": {k.value: v for k, v in REPORT_TYPE_LABELS.items()},
        "min_group_size": services.MIN_GROUP_SIZE,
        "advanced_open": any(params.get(k) for k in ("region", "field", "from", "to", "type", "status")),
    }
    status_code = 200
    try:
        context["stats"] = services.compute(filters)
    except ParamError as exc:
        context["error"] = exc
        status_code = 400
    except EngineUnavailable:
        context["unavailable"] = search.unavailable_message()
        status_code = 503
    return render_template("stats/index.html", **context), status_code


@bp.get("/api/v1/stats")
def api():
    """The statistics as JSON (shape: ``webapp.stats.services.compute``); errors as in /api/v1."""
    try:
        return jsonify(services.compute(_filters("api")))
    except ParamError as exc:
        return exc.response()
    except EngineUnavailable:
        return json_error(search.UNAVAILABLE_CODE, search.unavailable_message(), 503)
