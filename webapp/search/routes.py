"""Tra cứu: the public search page (GET keeps every parameter in the URL; the phone box POSTs)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from indexer.query import SORTS
from webapp import access
from webapp.reports.models import REPORT_TYPE_LABELS, STATUS_LABELS
from webapp.search import services
from webapp.search.request import KEPT_PARAMS, PAGE_PARAMS, SearchRequest
from webapp.search.services import EngineUnavailable, ParamError

bp = Blueprint("search", __name__)


@bp.route("/tra-cuu", methods=["GET", "POST"])
def index():
    # A phone search comes as POST so that the number never appears in a URL or a server log.
    search = (SearchRequest.from_form(request.form) if request.method == "POST"
              else SearchRequest.from_args(request.args, surface="page"))
    params = search.params(PAGE_PARAMS)
    code = search.tracking_code()
    if code:
        # A code pasted from an SMS opens its report; a code that is not public is not searched as words.
        report = access.find_published_report(code)
        if report is not None:
            return redirect(url_for("reports.public_report", code=report.code))
    ref = services.reference()
    context = {
        "params": params, "phone": search.phone, "ref": ref, "sorts": SORTS, "error": None, "result": None,
        "query": None, "status_labels": {k.value: v for k, v in STATUS_LABELS.items()},
        "type_labels": {k.value: v for k, v in REPORT_TYPE_LABELS.items()},
        # The same search, for its exports, feed and saved search (every result, so no page).
        "open_params": search.params(KEPT_PARAMS).to_dict(flat=False),
        "advanced_open": any(params.get(k) for k in ("region", "field", "from", "to", "type", "status")),
    }
    status_code = 200
    if code:
        context["code_not_public"] = code
        return render_template("search/index.html", **context)
    try:
        query = search.query()
        context["query"] = query
        result = services.run_search(query)
        context["result"] = result
        context["facets"] = services.facets_json(result)
        context["items"] = [(hit, services.item_json(hit.doc, hit.highlight)) for hit in result.hits]
        # No page beyond the results reachable by paging: the total stops at the search's bound
        # (the rest are in the exports).
        context["pages"] = max(1, -(-min(result.total, query.total_bound or result.total) // query.per_page))
    except ParamError as exc:
        context["error"] = exc
        status_code = exc.status
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
