"""Public JSON API v1: search, one report, reference lists. Errors are JSON with a stable code."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.extensions import csrf, db
from webapp.reports.codes import normalize_code
from webapp.search import services
from webapp.search.services import EngineUnavailable, ParamError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # a public, cookie-less read API; nothing here changes state


def error(code: str, message: str, status: int, field: str | None = None):
    return jsonify(error={"code": code, "message": message, "field": field}), status


@bp.errorhandler(ParamError)
def _bad_param(exc: ParamError):
    return jsonify(exc.as_json()), 400


@bp.errorhandler(EngineUnavailable)
def _engine_down(exc: EngineUnavailable):
    return error(services.UNAVAILABLE_CODE, services.unavailable_message(), 503)


def _search(source, allow_phone: bool):
    query = services.parse_params(source, allow_phone=allow_phone)
    result = services.run_search(query)
    return jsonify(services.result_json(query, result))


@bp.get("/reports")
def search_reports():
    if "phone" in request.args:
        return error("phone_in_url", _("Không gửi số điện thoại trên địa chỉ URL (nhật ký máy chủ sẽ lưu "
                                      "lại); hãy dùng POST /api/v1/reports/search với phone trong thân JSON."),
                     400, "phone")
    return _search(request.args, allow_phone=False)


@bp.post("/reports/search")
def search_reports_post():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("invalid_json", _("Thân yêu cầu phải là một đối tượng JSON."), 400)
    return _search(body, allow_phone=True)


@bp.get("/reports/<code>")
def report(code: str):
    from indexer.documents import build_document
    from webapp.reports.models import Report

    normalized = normalize_code(code)
    found = db.session.scalar(select(Report).where(Report.code == normalized)) if normalized else None
    doc = build_document(found) if found is not None else None
    if doc is None:
        return error("not_found", _("Không tìm thấy phản ánh công khai có mã này."), 404, "code")
    item = services.item_json(doc)
    item["content"] = doc["content"]
    item["timeline"] = [{"status": {"code": e.to_status, "label": e.to_label},
                         "at": e.created_at.isoformat(), "note": e.note or None} for e in found.events]
    return jsonify(item)


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
