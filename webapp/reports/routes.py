"""Sending reports and ideas, following them ("PAKN của tôi"), the public page, lookup, files."""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from indexer.documents import build_document
from webapp import access
from webapp.extensions import db, limiter
from webapp.reference.models import Field, Ward
from webapp.reports import services
from webapp.reports.forms import LookupForm, RatingForm, ReopenForm, ReportForm
from webapp.reports.models import STATUS_LABELS, Report, ReportType, Status
from webapp.reports.services import Draft, SendError
from webapp.reports.uploads import UploadError, upload_dir
from webapp.search.services import item_json

bp = Blueprint("reports", __name__)


def _choices(form: ReportForm) -> None:
    provinces = [int(c) for c in current_app.config["PROVINCES"]]
    form.field.choices = [("", _("— Chọn lĩnh vực —"))] + [
        (f.slug, f.name) for f in db.session.scalars(select(Field).order_by(Field.position))]
    form.ward.choices = [("", _("— Chọn xã, phường —"))] + [
        (str(w.code), w.name) for w in db.session.scalars(
            select(Ward).where(Ward.province_code.in_(provinces)).order_by(Ward.name))]


def _phone_from_login() -> str | None:
    return current_user.phone if current_user.phone and current_user.phone_verified_at else None


@bp.route("/gui-phan-anh", methods=["GET", "POST"])
@login_required
def send_report():
    return _send(ReportType.PAKN)


@bp.route("/gui-hien-ke", methods=["GET", "POST"])
@login_required
def send_idea():
    return _send(ReportType.IDEA)


def _send(report_type: str):  # noqa: ANN202
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    form = ReportForm(report_type=report_type, now=services.local_now_naive())
    _choices(form)
    fixed_phone = _phone_from_login()
    if request.method == "GET":
        form.sender_name.data = user.full_name
        form.sender_phone.data = fixed_phone or user.phone
        form.sender_email.data = user.email
        form.sender_address.data = user.address
        form.idempotency_key.data = secrets.token_urlsafe(24)
    elif fixed_phone:
        form.sender_phone.data = fixed_phone  # the verified number of the login, not a typed one

    kept, file_errors, status = [], [], 200
    if request.method == "POST":
        removed = set(request.form.getlist("remove_upload"))
        kept = [u for u in services.staged(user, request.form.getlist("upload_token")) if u.token not in removed]
        limit = current_app.config["UPLOAD_MAX_FILES"]
        for storage in request.files.getlist(form.files.name):
            if not storage or not storage.filename:
                continue
            if len(kept) >= limit:
                file_errors.append(_("Tối đa %(n)d tệp đính kèm; tệp “%(name)s” chưa được nhận.", n=limit,
                                     name=storage.filename))
                continue
            data = storage.read(current_app.config["UPLOAD_MAX_MB"] * 1024 * 1024 + 1)
            try:
                kept.append(services.stage_upload(user, storage.filename, data))
            except UploadError as exc:
                file_errors.append(exc.message)
                status = exc.status if exc.status == 413 else status
        db.session.commit()  # files already accepted survive a form that comes back with errors

    if request.method == "POST" and form.validate() and not file_errors:
        draft = Draft(
            type=report_type, title=form.title.data, content=form.content.data, field_slug=form.field.data,
            ward_code=int(form.ward.data), address=form.address.data or "", sender_kind=form.sender_kind.data,
            organization_name=form.organization_name.data, sender_name=form.sender_name.data,
            sender_phone=form.sender_phone.data, sender_email=form.sender_email.data,
            sender_address=form.sender_address.data, confidential=form.confidential.data,
            lat=float(form.lat.data) if form.lat.data is not None else None,
            lon=float(form.lon.data) if form.lon.data is not None else None,
            incident_at=services.from_local_input(form.incident_at.data))
        try:
            report, _created = services.create_report(user, draft, kept, form.idempotency_key.data)
            db.session.commit()
            return redirect(url_for("reports.sent", code=report.code))
        except SendError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.title).errors.append(exc.message)
            status = 400
    elif request.method == "POST":
        status = status if status != 200 else 400
    return render_template("reports/send.html", form=form, report_type=report_type, kept=kept,
                           file_errors=file_errors, fixed_phone=fixed_phone,
                           max_files=current_app.config["UPLOAD_MAX_FILES"],
                           max_mb=current_app.config["UPLOAD_MAX_MB"]), status


@bp.get("/da-gui/<code>")
@login_required
def sent(code: str):
    return render_template("reports/sent.html", report=access.own_report(code))


@bp.get("/pakn-cua-toi")
@login_required
def mine():
    query = select(Report).where(Report.user_id == current_user.id)
    status = request.args.get("status", "")
    if status in {s.value for s in Status}:
        query = query.where(Report.status == status)
    kind = request.args.get("type", "")
    if kind in ("pakn", "idea"):
        query = query.where(Report.type == kind)
    q = (request.args.get("q") or "").strip()
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Report.title).like(like), func.lower(Report.content).like(like),
                                func.lower(Report.code).like(like)))
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pagination = db.paginate(query.order_by(Report.submitted_at.desc(), Report.id.desc()), page=page,
                             per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("reports/mine.html", pagination=pagination, q=q, status=status, kind=kind,
                           status_labels={k.value: v for k, v in STATUS_LABELS.items()})


@bp.route("/pakn-cua-toi/<code>", methods=["GET"])
@login_required
def mine_detail(code: str):
    report = access.own_report(code)
    return render_template("reports/mine_detail.html", report=report, rating_form=RatingForm(),
                           reopen_form=ReopenForm(), can_rate=services.can_rate(report),
                           can_reopen=services.can_reopen(report), reopen_days=current_app.config["REOPEN_DAYS"])


@bp.post("/pakn-cua-toi/<code>/danh-gia")
@login_required
def rate(code: str):
    report = access.own_report(code)
    form = RatingForm()
    if form.validate_on_submit():
        try:
            services.rate(report, current_user, int(form.rating.data), form.comment.data or "")
            db.session.commit()
            flash(_("Cảm ơn bạn đã đánh giá."), "success")
        except SendError as exc:
            flash(exc.message, "error")
    else:
        flash(next(iter(form.errors.values()))[0], "error")
    return redirect(url_for("reports.mine_detail", code=report.code))


@bp.post("/pakn-cua-toi/<code>/xu-ly-lai")
@login_required
def reopen(code: str):
    report = access.own_report(code)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            services.reopen(report, current_user, form.reason.data)
            db.session.commit()
            flash(_("Đã gửi đề nghị xử lý lại."), "success")
            return redirect(url_for("reports.mine_detail", code=report.code))
        except SendError as exc:
            flash(exc.message, "error")
            return redirect(url_for("reports.mine_detail", code=report.code))
    return render_template("reports/mine_detail.html", report=report, rating_form=RatingForm(), reopen_form=form,
                           can_rate=services.can_rate(report), can_reopen=services.can_reopen(report),
                           reopen_days=current_app.config["REOPEN_DAYS"]), 400


@bp.route("/tra-cuu-ma", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def lookup():
    form = LookupForm()
    report, searched = None, False
    if form.validate_on_submit():
        searched = True
        report = access.looked_up_report(form.code.data, form.phone.data)
    return render_template("reports/lookup.html", form=form, report=report, searched=searched)


@bp.get("/tep/<int:attachment_id>")
def attachment(attachment_id: int):
    """A stored file, only for who may see it (``access.may_see_attachment``)."""
    item = access.attachment(attachment_id)
    report = item.report
    path = upload_dir() / item.stored_name
    if not path.is_file():
        abort(404)  # a row whose file is gone: not found for anyone (not an access decision)
    inline = item.content_type.startswith("image/")
    response = send_file(path, mimetype=item.content_type, as_attachment=not inline,
                         download_name=item.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store" if not report.published or report.confidential else "public, max-age=3600"
    return response


@bp.get("/pakn/<code>")
def public_report(code: str):
    """A published report; the sender is shown only when not confidential, the phone masked."""
    report = access.published_report(code)
    # What the public sees of it is decided by the document builder, here as in search.
    doc = build_document(report)
    return render_template("reports/public.html", report=report, item=item_json(doc), doc=doc)
