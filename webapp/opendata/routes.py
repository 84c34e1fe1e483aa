"""Open data for the public: exports and feeds of any search, saved searches with alerts."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from webapp import access, clock, feeds
from webapp.errors import json_error as _error
from webapp.extensions import db
from webapp.opendata import alerts, exports
from webapp.opendata.alerts import params_of, saved_id_from_token
from webapp.opendata.forms import SavedSearchForm
from webapp.opendata.models import ALERT_FREQUENCY_LABELS, AlertFrequency, SavedSearch
from webapp.search import services
from webapp.search.request import FILTER_PARAMS, SearchRequest
from webapp.search.services import EngineUnavailable, ParamError

bp = Blueprint("opendata", __name__)
FEED_SIZE = 50


def _export_query():
    """The checked query of an export, or an error response (before any byte of the file)."""
    try:
        probe = SearchRequest.from_args(request.args, surface="export").probe()
        query, total = probe.query, probe.total
    except ParamError as exc:
        return None, exc.response()
    except EngineUnavailable:
        return None, _error(services.UNAVAILABLE_CODE, services.unavailable_message(), 503)
    return (query, total), None


def _stream(chunks, mimetype: str, ext: str, total: int) -> Response:
    stamp = clock.now().astimezone(exports.ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y%m%d-%H%M")
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="pakn-tra-cuu-{stamp}.{ext}"'
    response.headers["X-Total-Count"] = str(total)
    response.headers["Cache-Control"] = "no-store"
    return response


FORMATS = {"csv": (exports.csv_chunks, "text/csv; charset=utf-8"),
           "jsonl": (exports.jsonl_chunks, "application/x-ndjson")}


def _export(fmt: str) -> Response:
    prepared, failure = _export_query()
    if failure:
        return failure
    query, total = prepared
    write, mimetype = FORMATS[fmt]
    return _stream(write(exports.rows(query)), mimetype, fmt, total)


@bp.get("/api/v1/reports.csv")
def export_csv():
    """Every public report matching the search parameters, as CSV (UTF-8 with BOM)."""
    return _export("csv")


@bp.get("/api/v1/reports.jsonl")
def export_jsonl():
    """Every public report matching the search parameters, one JSON object per line."""
    return _export("jsonl")


@bp.get("/tra-cuu/feed.atom")
def search_feed():
    """The newest public reports of a search (same parameters as Tra cứu) as an Atom feed."""
    search = SearchRequest.from_args(request.args, surface="feed")
    try:
        query = search.query()
    except ParamError as exc:
        return Response(exc.message, 400, mimetype="text/plain")
    query.sort, query.page, query.per_page, query.facets = "newest", 1, FEED_SIZE, False
    try:
        result = services.run_search(query)
    except EngineUnavailable:
        return Response(services.unavailable_message(), 503, mimetype="text/plain",
                        headers={"Retry-After": "120"})
    kept = search.params(FILTER_PARAMS)  # the feed's own order, size and page are fixed
    entries = [_feed_entry(hit.doc) for hit in result.hits]
    self_url = url_for("opendata.search_feed", _external=True, **kept.to_dict(flat=False))
    return Response(feeds.atom(
        feed_id=self_url, title=_("Tra cứu PAKN: %(title)s", title=feed_title(kept)), self_url=self_url,
        alternate_url=url_for("search.index", _external=True, **kept.to_dict(flat=False)),
        updated=max((e.updated for e in entries), default=datetime(2020, 1, 1, tzinfo=UTC)), entries=entries),
        mimetype="application/atom+xml")


def _feed_entry(doc: dict) -> feeds.Entry:
    """One report of the search feed, from its public document (the public view's)."""
    item = services.item_json(doc)
    summary = f"{item['status']['label']} · {item['field']['name']}"
    if item["region"]["ward"]:
        summary += f" · {item['region']['ward']}"
    summary += "\n" + feeds.shorten(doc.get("content") or "")
    if item["answer"]:
        summary += "\n\n" + _("Trả lời của %(unit)s:", unit=item["answer"]["unit"]) + " " + feeds.shorten(
            item["answer"]["text"])
    published = datetime.fromisoformat(doc["submitted_at"])
    return feeds.Entry(
        id=item["url"], title=f"{item['code']}: {item['title']}", link=item["url"], published=published,
        updated=datetime.fromisoformat(doc["published_at"]) if doc.get("published_at") else published,
        author=item["sender"]["name"] if item["sender"] else _("Người gửi đề nghị giữ bí mật"),
        category=(item["field"]["slug"], item["field"]["name"]), summary=summary)


def feed_title(params: MultiDict, quote_words: bool = True) -> str:
    """A readable title for a search: its words and filters, e.g. "“ngập nước” · Giao thông"; without
    the quotes for a saved search's name, which the messages quote themselves (no ““…” · …”)."""
    ref = services.reference()
    parts = []
    if params.get("q"):
        parts.append(f"“{params['q']}”" if quote_words else params["q"])
    for key in ("field", "region", "type", "status"):
        for value in params.getlist(key):
            if key == "region" and value.isdigit() and int(value) in ref.provinces:
                parts.append(ref.provinces[int(value)])
            else:
                parts.append(str(services.facet_labels(key, value)))
    if params.get("from") or params.get("to"):
        parts.append(f"{params.get('from') or '…'} – {params.get('to') or '…'}")
    return " · ".join(parts) or _("Tất cả phản ánh công khai")


# -- saved searches ------------------------------------------------------------------------------------
MAX_SAVED = 50




@bp.route("/tim-kiem-da-luu/moi", methods=["GET", "POST"])
@login_required
def saved_new():
    """Save the search given by the query string (a form shows its name and the alert choice)."""
    search = SearchRequest.from_args(request.args, FILTER_PARAMS, surface="page")
    params = search.params()
    error = None
    try:
        search.query()
    except ParamError as exc:
        error = exc.message
    form = SavedSearchForm()
    if request.method == "GET":
        form.name.data = feed_title(params, quote_words=False)[:200]
        form.email.data = current_user.email
    count = db.session.scalar(select(db.func.count()).select_from(SavedSearch)
                              .where(SavedSearch.user_id == current_user.id)) or 0
    if count >= MAX_SAVED:
        error = _("Bạn đã lưu %(n)d tìm kiếm, mức tối đa; hãy xoá bớt trước khi lưu thêm.", n=MAX_SAVED)
    if error is None and form.validate_on_submit():
        saved = SavedSearch(user_id=current_user.id, name=form.name.data.strip(), query_string=search.query_string(),
            frequency=form.frequency.data,
            email=(form.email.data or "").strip() or None)
        db.session.add(saved)
        alerts.address_changed(saved)
        db.session.commit()
        flash(_("Đã lưu tìm kiếm “%(name)s”.", name=saved.name), "success")
        _confirmation_notice(saved)
        return redirect(url_for("opendata.saved_list"))
    return render_template("opendata/saved_new.html", form=form, params=params, error=error,
                           summary=feed_title(params)), (400 if error or form.errors else 200)


@bp.get("/tim-kiem-da-luu")
@login_required
def saved_list():
    items = db.session.scalars(select(SavedSearch).where(SavedSearch.user_id == current_user.id)
                               .order_by(SavedSearch.created_at.desc(), SavedSearch.id.desc())).all()
    forms = {}
    for saved in items:
        form = SavedSearchForm(prefix=f"s{saved.id}", formdata=None, obj=saved)
        forms[saved.id] = form
    return render_template("opendata/saved_list.html", items=items, forms=forms, params_of=params_of,
                           labels=ALERT_FREQUENCY_LABELS, feed_title=feed_title)


@bp.post("/tim-kiem-da-luu/<int:saved_id>")
@login_required
def saved_update(saved_id: int):
    saved = access.own_saved_search(saved_id)
    form = SavedSearchForm(prefix=f"s{saved.id}")
    if form.validate_on_submit():
        saved.name = form.name.data.strip()
        saved.frequency = form.frequency.data
        email = (form.email.data or "").strip() or None
        changed = (email or "").lower() != (saved.email or "").lower()
        saved.email = email
        if changed:
            alerts.address_changed(saved)
        db.session.commit()
        flash(_("Đã cập nhật “%(name)s”.", name=saved.name), "success")
        if changed:
            _confirmation_notice(saved)
        return redirect(url_for("opendata.saved_list"))
    for errors in form.errors.values():
        for message in errors:
            flash(f"{saved.name}: {message}", "error")
    return redirect(url_for("opendata.saved_list"))


@bp.post("/tim-kiem-da-luu/<int:saved_id>/xoa")
@login_required
def saved_delete(saved_id: int):
    saved = access.own_saved_search(saved_id)
    db.session.delete(saved)
    db.session.commit()
    flash(_("Đã xoá tìm kiếm “%(name)s”.", name=saved.name), "success")
    return redirect(url_for("opendata.saved_list"))


def _confirmation_notice(saved: SavedSearch) -> None:
    if saved.email and saved.email_confirmed_at is None:
        flash(_("Đã gửi thư xác nhận tới %(email)s. Thư báo chỉ được gửi sau khi bạn bấm liên kết trong thư đó.",
                email=saved.email), "success")


@bp.route("/tim-kiem-da-luu/xac-nhan/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    """The link of the confirmation mail: asks to confirm (mail scanners open links), then alerts may go."""
    saved = alerts.saved_from_confirm_token(token)
    if saved is None:
        return render_template("opendata/confirm_email.html", saved=None), 404
    done = saved.email_confirmed_at is not None
    if request.method == "POST" and not done:
        saved.email_confirmed_at = clock.now()
        db.session.commit()
        done = True
    return render_template("opendata/confirm_email.html", saved=saved, done=done, token=token)


@bp.route("/tim-kiem-da-luu/huy/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """The link in every alert: asks to confirm (mail scanners open links), then stops the mail."""
    saved_id = saved_id_from_token(token)
    saved = db.session.get(SavedSearch, saved_id) if saved_id is not None else None
    if saved is None:
        return render_template("opendata/unsubscribe.html", saved=None), 404
    done = False
    if request.method == "POST":
        saved.frequency = AlertFrequency.NONE
        db.session.commit()
        done = True
    return render_template("opendata/unsubscribe.html", saved=saved, done=done, token=token)
