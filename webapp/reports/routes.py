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
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from indexer.text import mask_phone
from webapp import access
from webapp.auth import services as auth_services
from webapp.auth.services import AuthError
from webapp.extensions import db, limiter
from webapp.reference.models import Field, Ward
from webapp.reports import services, validation
from webapp.reports.codes import normalize_code
from webapp.reports.forms import LookupForm, RatingForm, ReopenForm, ReportForm
from webapp.reports.models import STATUS_LABELS, Report, ReportType, Status
from webapp.reports.public import public_timeline, public_view, sender_answer
from webapp.reports.services import SendError
from webapp.reports.uploads import upload_dir

bp = Blueprint("reports", __name__)


def _choices(form: ReportForm) -> None:
    provinces = [int(c) for c in current_app.config["PROVINCES"]]
    form.field.choices = [("", _("— Chọn lĩnh vực —"))] + [
        (f.slug, f.name) for f in db.session.scalars(select(Field).order_by(Field.position))]
    form.ward.choices = [("", _("— Chọn xã, phường —"))] + [
        (str(w.code), w.name) for w in db.session.scalars(
            select(Ward).where(Ward.province_code.in_(provinces)).order_by(Ward.name))]


@bp.route("/gui-phan-anh", methods=["GET", "POST"])
@login_required
def send_report():
    return _send(ReportType.PAKN)


@bp.route("/gui-hien-ke", methods=["GET", "POST"])
@login_required
def send_idea():
    return _send(ReportType.IDEA)


def _files(user, kept: list) -> tuple[list, list[str], int]:  # noqa: ANN001
    """Stage the files of this POST after the ``kept`` ones; returns (kept, messages, status)."""
    incoming = [(s.filename, s) for s in request.files.getlist("files") if s and s.filename]
    errors, status = [], 200
    results = validation.check_files(len(kept), ((name, s.read(validation.read_limit())) for name, s in incoming))
    for filename, result in results:
        if isinstance(result, validation.Problem):
            errors.append(result.message)
            status = result.status if result.status == 413 else status
        else:
            try:
                kept.append(services.stage_checked(user, filename, result))
            except SendError as exc:  # the account's quota of files not yet sent
                errors.append(exc.message)
                status = exc.status
    return kept, errors, status


def _phone_step(user, form: ReportForm, action: str) -> tuple[str | None, str | None, int]:  # noqa: ANN001
    """The OTP buttons of the form: send a code to the typed number, or check the typed code.
    Returns (notice, error of the code field, status); errors of the number go to its field."""
    try:
        if action == "phone_code":
            problem = validation.check("sender_phone", {"sender_phone": form.sender_phone.data})
            if problem is not None:
                form.sender_phone.errors = [problem.message]
                return None, None, 400
            issued = auth_services.request_phone_verification(user, form.sender_phone.data)
            session[auth_services.PHONE_OTP_KEY] = issued.challenge.id
            db.session.commit()
            return _("Đã gửi mã xác thực tới %(p)s. Nhập mã vào ô bên dưới.", p=mask_phone(issued.challenge.phone)), \
                None, 200
        phone = auth_services.verify_account_phone(user, session.get(auth_services.PHONE_OTP_KEY), request.form.get("phone_code", ""))
        session.pop(auth_services.PHONE_OTP_KEY, None)
        db.session.commit()
        form.sender_phone.data = phone
        return _("Đã xác thực số %(p)s. Mã theo dõi sẽ được gửi tới số này.", p=mask_phone(phone)), None, 200
    except AuthError as exc:
        db.session.commit()  # keep counted failures and the audit entry
        if action == "phone_code" or exc.code == "phone_taken":
            form.sender_phone.errors = [exc.message]
            return None, None, exc.status
        return None, exc.message, exc.status


def _send(report_type: str):  # noqa: ANN202
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    form = ReportForm(report_type=report_type, now=services.local_now_naive())
    _choices(form)
    action = request.form.get("action", "send") if request.method == "POST" else ""
    if request.method == "GET":
        form.sender_name.data = user.full_name
        form.sender_phone.data = validation.verified_phone(user) or user.phone
        form.sender_email.data = user.email
        form.sender_address.data = user.address
        form.idempotency_key.data = secrets.token_urlsafe(24)

    kept, file_errors, status = [], [], 200
    notice, code_error = None, None
    limited = services.send_budget_refusal(user) if request.method == "POST" else None
    if limited is not None:
        # Too many posts: nothing is stored or sent, and the page keeps what was typed.
        kept = services.staged(user, request.form.getlist("upload_token"))
        return render_template("reports/send.html", form=form, report_type=report_type, kept=kept,
                               file_errors=[limited.message], fixed_phone=validation.verified_phone(user),
                               notice=None, code_error=None, code_sent=False,
                               max_files=current_app.config["UPLOAD_MAX_FILES"],
                               max_mb=current_app.config["UPLOAD_MAX_MB"]), 429
    if request.method == "POST":
        removed = set(request.form.getlist("remove_upload"))
        kept = [u for u in services.staged(user, request.form.getlist("upload_token")) if u.token not in removed]
        kept, file_errors, status = _files(user, kept)
        db.session.commit()  # files already accepted survive a form that comes back with errors
    if action in ("phone_code", "phone_verify"):
        notice, code_error, phone_status = _phone_step(user, form, action)
        status = phone_status if phone_status != 200 else status
    fixed_phone = validation.verified_phone(user)
    if fixed_phone and request.method == "POST":
        form.sender_phone.data = fixed_phone  # the verified number of the account, never a typed one

    if action == "send" and form.validate() and fixed_phone and not file_errors:
        draft = validation.draft(form.send_values())
        draft.incident_at = services.from_local_input(form.incident_at.data)  # typed in local time
        try:
            key = form.idempotency_key.data if validation.idempotency_key_problem(form.idempotency_key.data) is None \
                else None  # a tampered key only loses the double-submit guard
            report, _created = services.create_report(user, draft, kept, key)
            db.session.commit()
            return redirect(url_for("reports.sent", code=report.code))
        except SendError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.title).errors.append(exc.message)
            status = 400
    elif action == "send":
        if not fixed_phone:
            form.sender_phone.errors = [validation.phone_not_verified().message]
        status = status if status != 200 else 400
    return render_template("reports/send.html", form=form, report_type=report_type, kept=kept,
                           file_errors=file_errors, fixed_phone=fixed_phone, notice=notice, code_error=code_error,
                           code_sent=bool(session.get(auth_services.PHONE_OTP_KEY)) and not fixed_phone,
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
                           reopen_form=ReopenForm(), timeline=public_timeline(report), answer=sender_answer(report), can_rate=services.can_rate(report),
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
                           timeline=public_timeline(report), answer=sender_answer(report),
                           can_rate=services.can_rate(report), can_reopen=services.can_reopen(report),
                           reopen_days=current_app.config["REOPEN_DAYS"]), 400


@bp.route("/tra-cuu-ma", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def lookup():
    form = LookupForm()
    report, searched = None, False
    if request.method == "GET" and request.args.get("code"):  # from Tra cứu: a code that is not public
        form.code.data = normalize_code(request.args["code"]) or None
    if form.validate_on_submit():
        searched = True
        report = access.looked_up_report(form.code.data, form.phone.data)
    return render_template("reports/lookup.html", form=form, report=report, searched=searched,
                           timeline=public_timeline(report) if report is not None else (),
                           answer=sender_answer(report, lambda f: access.may_see_attachment(current_user, f))
                           if report is not None else None)


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
    # Who may open it is the access rule; what the public sees of it is the one public view.
    view = public_view(access.published_report(code))  # published: the view exists
    return render_template("reports/public.html", view=view)
