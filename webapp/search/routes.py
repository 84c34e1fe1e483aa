"""Tra cứu: the public search page (GET keeps every parameter in the URL; the phone box POSTs)."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from indexer.query import SORTS
from webapp.reports.models import REPORT_TYPE_LABELS, STATUS_LABELS
from webapp.search import services
from webapp.search.services import EngineUnavailable, ParamError

bp = Blueprint("search", __name__)
LIST_PARAMS = ("region", "field", "type", "status")
FILTER_PARAMS = ("q", *LIST_PARAMS, "from", "to")
KEPT_PARAMS = (*FILTER_PARAMS, "sort", "per_page")


def kept_params(source: MultiDict, keys: tuple[str, ...] = KEPT_PARAMS) -> MultiDict:
    """The shareable parameters of a search (never the phone, never the CSRF token), non-empty."""
    kept = MultiDict()
    for key in keys:
        for value in source.getlist(key):
            if value.strip():
                kept.add(key, value.strip())
    return kept


@bp.route("/tra-cuu", methods=["GET", "POST"])
def index():
    # A phone search comes as POST so that the number never appears in a URL or a server log.
    source = request.form if request.method == "POST" else request.args
    params = kept_params(source)
    if source.get("page"):
        params["page"] = source["page"]
    phone = source.get("phone", "").strip() if request.method == "POST" else ""
    ref = services.reference()
    context = {
        "params": params, "phone": phone, "ref": ref, "sorts": SORTS, "error": None, "result": None,
        "query": None, "status_labels": {k.value: v for k, v in STATUS_LABELS.items()},
        "type_labels": {k.value: v for k, v in REPORT_TYPE_LABELS.items()},
        # The same search, for its exports, feed and saved search (every result, so no page).
        "open_params": {k: v for k, v in params.to_dict(flat=False).items() if k != "page"},
        "advanced_open": any(params.get(k) for k in ("region", "field", "from", "to", "type", "status")),
    }
    status_code = 200
    try:
        parse_source = MultiDict(params)
        if phone:
            parse_source["phone"] = phone
        query = services.parse_params(parse_source, allow_phone=True)
        context["query"] = query
        result = services.run_search(query)
        context["result"] = result
        context["facets"] = services.facets_json(result)
        context["items"] = [(hit, services.item_json(hit.doc, hit.highlight)) for hit in result.hits]
        # No page beyond the results reachable by paging (the rest are in the exports).
        context["pages"] = max(1, -(-min(result.total, services.MAX_RESULTS) // query.per_page))
    except ParamError as exc:
        context["error"] = exc
        status_code = 400
    except EngineUnavailable:
        context["unavailable"] = services.unavailable_message()
        status_code = 503
    return render_template("search/index.html", **context), status_code


@bp.app_template_global()
def search_url(params: MultiDict, toggle: tuple[str, str] | None = None, **changes) -> str:
    """The Tra cứu URL for ``params`` with one list value toggled and/or single values changed."""
    args = MultiDict(params)
    if toggle is not None:
        key, value = toggle
        values = args.getlist(key)
        args.setlist(key, [v for v in values if v != value] if value in values else [*values, value])
        args.pop("page", None)
    for key, value in changes.items():
        if value in (None, ""):
            args.pop(key, None)
        else:
            args[key] = value
    return url_for("search.index", **args.to_dict(flat=False))
