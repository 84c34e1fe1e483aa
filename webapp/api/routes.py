"""Public JSON API v1: search, one report, reference lists. Errors are JSON with a stable code."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.access import login_required_json
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


# -- sending and following (logged-in citizens) --------------------------------------------------------
@bp.post("/reports/similar")
def similar():
    """Up to 5 published reports like the text being typed (for the send form); empty on any trouble."""
    from indexer.query import SearchQuery

    body = request.get_json(silent=True)
    text = str(body.get("text") or "")[:200] if isinstance(body, dict) else ""  # any JSON may arrive
    if len(text.strip()) < 3:
        return jsonify(items=[])
    try:
        result = services.run_search(SearchQuery(q=text, per_page=5, facets=False, any_words=True))
    except EngineUnavailable:
        return jsonify(items=[])
    return jsonify(items=[services.item_json(h.doc, h.highlight) for h in result.hits])


_TEXT_KEYS = ("type", "title", "content", "field", "address", "sender_kind", "organization_name", "sender_name",
              "sender_phone", "sender_email", "sender_address", "idempotency_key")
_SENDER_TEXT_KEYS = ("kind", "organization", "name", "phone", "email", "address")
IDEMPOTENCY_KEY_MAX = 64  # the column's length


@bp.post("/reports")
@login_required_json
def create_report():
    """Send a report or idea: JSON, or multipart (fields + files) with the header X-Requested-With."""
    from flask import current_app
    from flask_login import current_user

    from indexer.text import normalize_phone
    from webapp.reports import services as report_services
    from webapp.reports.services import Draft, SendError
    from webapp.reports.uploads import UploadError

    user = current_user._get_current_object()
    if request.mimetype == "multipart/form-data":
        # A custom header cannot be sent cross-site without CORS (not granted): no CSRF by forms.
        if not request.headers.get("X-Requested-With"):
            return error("csrf", _("Thiếu tiêu đề X-Requested-With."), 400)
        body = request.form.to_dict()
        body["confidential"] = body.get("confidential", "").lower() in ("1", "true", "on", "yes")
    else:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error("invalid_json", _("Thân yêu cầu phải là một đối tượng JSON."), 400)
    required = {"title": _("Vui lòng nhập tiêu đề."), "content": _("Vui lòng nhập nội dung."),
                "field": _("Vui lòng chọn lĩnh vực."), "ward": _("Vui lòng chọn xã, phường.")}
    kind = body.get("type", "pakn")
    if kind not in ("pakn", "idea"):
        return error("invalid_parameter", _("Loại phải là pakn hoặc idea."), 400, "type")
    if kind == "pakn":
        required["address"] = _("Vui lòng nhập địa chỉ nơi xảy ra sự việc.")
    for key, message in required.items():
        if not str(body.get(key) or "").strip():
            return error("required", message, 400, key)
    sender = body.get("sender") if isinstance(body.get("sender"), dict) else {}
    # Text arrives as JSON of any type: anything but a string (or nothing) is refused, not guessed at.
    texts = [(k, body.get(k)) for k in _TEXT_KEYS] + [(f"sender.{k}", sender.get(k)) for k in _SENDER_TEXT_KEYS]
    for key, value in texts:
        if value is not None and not isinstance(value, str):
            return error("invalid_parameter", _("'%(key)s' phải là chuỗi ký tự.", key=key), 400, key)
    sender_kind = sender.get("kind") or body.get("sender_kind") or "individual"
    if sender_kind not in ("individual", "organization"):
        return error("invalid_parameter", _("Người gửi phải là cá nhân hoặc tổ chức."), 400, "sender.kind")
    organization = sender.get("organization") or body.get("organization_name")
    if sender_kind == "organization" and not str(organization or "").strip():
        return error("required", _("Vui lòng nhập tên tổ chức."), 400, "sender.organization")
    fixed = user.phone if user.phone and user.phone_verified_at else None
    phone = fixed or normalize_phone(str(sender.get("phone") or body.get("sender_phone") or ""))
    if not phone:
        return error("phone_invalid", _("Số điện thoại không hợp lệ."), 400, "sender.phone")
    name = str(sender.get("name") or body.get("sender_name") or user.full_name or "").strip()
    if not name:
        return error("required", _("Vui lòng nhập họ và tên."), 400, "sender.name")
    if len(str(body["title"])) > 300:
        return error("too_long", _("Tiêu đề dài 5–300 ký tự."), 400, "title")
    key = request.headers.get("Idempotency-Key") or body.get("idempotency_key")
    if key and len(key) > IDEMPOTENCY_KEY_MAX:
        return error("invalid_parameter", _("Idempotency-Key dài tối đa %(n)d ký tự.", n=IDEMPOTENCY_KEY_MAX),
                     400, "idempotency_key")

    files = []
    try:
        incoming = request.files.getlist("files") if request.mimetype == "multipart/form-data" else []
        if len(incoming) > current_app.config["UPLOAD_MAX_FILES"]:
            return error("too_many_files", _("Tối đa %(n)d tệp đính kèm.", n=current_app.config["UPLOAD_MAX_FILES"]),
                         400, "files")
        for storage in incoming:
            data = storage.read(current_app.config["UPLOAD_MAX_MB"] * 1024 * 1024 + 1)
            files.append(report_services.stage_upload(user, storage.filename or "tep", data))
        draft = Draft(type=kind, title=str(body["title"]), content=str(body["content"]), field_slug=str(body["field"]),
                      ward_code=body["ward"], address=str(body.get("address") or ""), sender_kind=sender_kind,
                      organization_name=organization, sender_name=name, sender_phone=phone,
                      sender_email=sender.get("email") or body.get("sender_email"),
                      sender_address=sender.get("address") or body.get("sender_address"),
                      confidential=bool(body.get("confidential", False)))
        report, created = report_services.create_report(user, draft, files, key)
        db.session.commit()
    except UploadError as exc:
        db.session.rollback()
        return error("file_too_large" if exc.status == 413 else "file_refused", exc.message, exc.status, "files")
    except SendError as exc:
        db.session.rollback()
        return error(exc.code, exc.message, exc.status, exc.field)
    from flask import url_for

    return jsonify(code=report.code, url=url_for("reports.mine_detail", code=report.code, _external=True)), \
        (201 if created else 200)


@bp.get("/me/reports")
@login_required_json
def my_reports():
    from flask_login import current_user

    from webapp.reports.models import Report

    reports = db.session.scalars(select(Report).where(Report.user_id == current_user.id)
                                 .order_by(Report.submitted_at.desc(), Report.id.desc()).limit(200)).all()
    return jsonify(items=[{
        "code": r.code, "type": r.type, "title": r.title, "status": {"code": r.status, "label": r.status_label},
        "submitted_at": r.submitted_at.isoformat(), "published": r.published, "confidential": r.confidential,
        "answer": ({"unit": r.published_answer.unit.name, "text": r.published_answer.text}
                   if r.published_answer else None)} for r in reports])
