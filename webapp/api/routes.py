"""Public JSON API v1: search, one report, reference lists. Errors are JSON with a stable code."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from indexer.query import Hit, SearchResult
from webapp import access
from webapp.access import login_required_json
from webapp.errors import json_error as error
from webapp.extensions import csrf, db
from webapp.reports import services as report_services
from webapp.reports import uploads, validation
from webapp.reports.models import Report
from webapp.reports.public import public_view
from webapp.reports.services import SendError, send_budget_refusal
from webapp.search import services
from webapp.search.request import SearchRequest
from webapp.search.services import EngineUnavailable, ParamError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # a public, cookie-less read API; nothing here changes state


@bp.errorhandler(ParamError)
def _bad_param(exc: ParamError):
    return exc.response()


@bp.errorhandler(EngineUnavailable)
def _engine_down(exc: EngineUnavailable):
    return error(services.UNAVAILABLE_CODE, services.unavailable_message(), 503)


def _search(search: SearchRequest):
    query = search.query()
    code = search.tracking_code()
    if code:  # a tracking code answers its published report as the single result (or none)
        report = access.find_published_report(code)
        view = public_view(report)
        hits = [Hit(id=report.id, score=1.0, doc=view.doc)] if report is not None and view is not None else []
        return jsonify(services.result_json(query, SearchResult(total=len(hits), hits=hits)))
    result = services.run_search(query)
    return jsonify(services.result_json(query, result))


@bp.get("/reports")
def search_reports():
    return _search(SearchRequest.from_args(request.args))  # a phone here is refused: phone_in_url


@bp.post("/reports/search")
def search_reports_post():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("invalid_json", _("Thân yêu cầu phải là một đối tượng JSON."), 400)
    return _search(SearchRequest.from_json(body))


@bp.get("/reports/<code>")
def report(code: str):
    # Who may open it is the access rule (404 JSON when not published); what the public sees of it
    # is the one public view: masked text, no confidential sender, the public timeline only.
    return jsonify(public_view(access.published_report(code)).detail_json())


@bp.get("/meta/fields")
def fields():
    ref = services.reference()
    return jsonify([{"slug": slug, "name": name} for slug, name in ref.fields.items()])


@bp.get("/meta/regions")
def regions():
    ref = services.reference()
    return jsonify([
        {"code": code, "name": name, "kind": "province",
         "wards": [{"code": w, "name": wname} for w, (wname, p) in ref.wards.items() if p == code]}
        for code, name in ref.provinces.items()])


# -- sending and following (logged-in citizens) --------------------------------------------------------
@bp.post("/reports/similar")
def similar():
    """Up to 5 published reports like the text being typed (for the send form); empty on any trouble."""
    body = request.get_json(silent=True)
    text = str(body.get("text") or "")[:200] if isinstance(body, dict) else ""  # any JSON may arrive
    if len(text.strip()) < 3:
        return jsonify(items=[])
    try:
        result = services.run_search(SearchRequest.similar(text).query())
    except (EngineUnavailable, ParamError):
        return jsonify(items=[])
    return jsonify(items=[services.item_json(h.doc, h.highlight) for h in result.hits])


# The send form's field names as this API names them: flat (multipart, or JSON without "sender"),
# or inside the JSON object "sender".
_SENDER_KEYS = {"sender_kind": "kind", "organization_name": "organization", "sender_name": "name",
                "sender_phone": "phone", "sender_email": "email", "sender_address": "address"}
_TEXT_KEYS = ("type", "title", "content", "field", "address", *_SENDER_KEYS, "idempotency_key")


def _send_values(body: dict, user) -> tuple[dict, dict[str, str]]:  # noqa: ANN001
    """The body as the send form's values, and the API name of each form field (for errors)."""
    sender = body.get("sender") if isinstance(body.get("sender"), dict) else None
    values = {name: body.get(name) for name in ("type", "title", "content", "field", "ward", "address", "lat", "lon")}
    values["type"] = body.get("type", "pakn")
    values["confidential"] = body.get("confidential", False)
    names = {name: name for name in (*values, "files")}
    for flat, nested in _SENDER_KEYS.items():
        if sender is not None and sender.get(nested) is not None:
            values[flat], names[flat] = sender[nested], f"sender.{nested}"
        else:
            values[flat] = body.get(flat)
            names[flat] = flat if sender is None or flat in body else f"sender.{nested}"
    if values["sender_name"] is None or (isinstance(values["sender_name"], str) and not values["sender_name"].strip()):
        values["sender_name"] = user.full_name or values["sender_name"]  # the account's name when none is given
    return values, names


@bp.post("/reports")
@login_required_json
def create_report():
    """Send a report or idea: JSON, or multipart (fields + files) with the header X-Requested-With.

    The rules and messages are the send form's (``webapp.reports.validation``); an error names the
    field as this request named it."""
    user = current_user._get_current_object()
    limited = send_budget_refusal(user)
    if limited is not None:
        response, status = error("rate_limited", limited.message, 429)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response, status
    multipart = request.mimetype == "multipart/form-data"
    if multipart:
        # A custom header cannot be sent cross-site without CORS (not granted): no CSRF by forms.
        if not request.headers.get("X-Requested-With"):
            return error("csrf", _("Thiếu tiêu đề X-Requested-With."), 400)
        body = request.form.to_dict()
    else:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error("invalid_json", _("Thân yêu cầu phải là một đối tượng JSON."), 400)
    values, names = _send_values(body, user)
    # Text arrives as JSON of any type: anything but a string (or nothing) is refused, not guessed at.
    for name in _TEXT_KEYS:
        value = values.get(name, body.get(name))
        if value is not None and not isinstance(value, str):
            key = names.get(name, name)
            return error("invalid_parameter", _("'%(key)s' phải là chuỗi ký tự.", key=key), 400, key)
    key = request.headers.get("Idempotency-Key") or body.get("idempotency_key")
    refused = validation.idempotency_key_problem(key)
    if refused is not None:
        return error(refused.code, refused.message, 400, "idempotency_key")
    phone = validation.verified_phone(user)
    values["sender_phone"] = phone or values["sender_phone"]
    problems = validation.validate(values, names=[n for n in validation.ORDER if n not in ("sender_phone",)])
    if not problems and phone is None:
        problems = [validation.phone_not_verified()]
    checked: list = []
    if not problems and multipart:
        # Every file is checked before any is stored: a refused send leaves nothing behind.
        checked = validation.check_files(0, ((s.filename or "tep", s.read(validation.read_limit()))
                                             for s in request.files.getlist("files")))
        problems = [r for _name, r in checked if isinstance(r, validation.Problem)]
    if problems:
        first = problems[0]
        return error(first.code, first.message, first.status, names.get(first.field, first.field))
    files = []
    try:
        for name, result in checked:
            files.append(report_services.stage_checked(user, name, result))
        report, created = report_services.create_report(user, validation.draft(values), files, key)
        db.session.commit()
    except SendError as exc:
        db.session.rollback()
        uploads.discard([f.stored_name for f in files])  # a refused send leaves no file behind
        return error(exc.code, exc.message, exc.status, names.get(exc.field or "", exc.field))
    return jsonify(code=report.code, url=url_for("reports.mine_detail", code=report.code, _external=True)), \
        (201 if created else 200)


@bp.get("/me/reports")
@login_required_json
def my_reports():
    reports = db.session.scalars(select(Report).where(Report.user_id == current_user.id)
                                 .order_by(Report.submitted_at.desc(), Report.id.desc()).limit(200)).all()
    return jsonify(items=[{
        "code": r.code, "type": r.type, "title": r.title, "status": {"code": r.status, "label": r.status_label},
        "submitted_at": r.submitted_at.isoformat(), "published": r.published, "confidential": r.confidential,
        "answer": ({"unit": r.published_answer.unit.name, "text": r.published_answer.text}
                   if r.published_answer else None)} for r in reports])
