"""Staff pages of the report workflow: dashboard data, the inbox (staff search scope), a report's
staff page with its actions, answer approval, answer templates.

Access is checked on every request by the loaders of ``webapp.access``: a report the user may not
see answers 404 (it is not even acknowledged), an action the user may see but not take answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from indexer.engine import EngineUnavailable
from webapp import access
from webapp.access import staff_required
from webapp.auth.models import RoleName, Unit
from webapp.clock import now
from webapp.extensions import db
from webapp.reference.models import Field
from webapp.reports.models import (
    STATUS_LABELS,
    Answer,
    AnswerTemplate,
    Report,
    Status,
)
from webapp.search import services as search
from webapp.search.engines import get_engine
from webapp.search.request import KEPT_PARAMS, SearchRequest
from webapp.workflow import forms, services
from webapp.workflow.services import WorkflowError

bp = Blueprint("workflow", __name__, url_prefix="/can-bo")
STAFF = (RoleName.OFFICER, RoleName.LEADER, RoleName.ADMIN)


# -- inbox --------------------------------------------------------------------------------------------
@bp.get("/hop-thu")
@staff_required(*STAFF)
def inbox():
    """Every report in the user's scope, through the search contract's staff index."""
    error = unavailable = None
    result = query = None
    overdue_only = request.args.get("qua_han") == "1"
    asked = SearchRequest.from_args(request.args, surface="page")
    code = asked.tracking_code()
    report = access.find_staff_report(code) if code else None
    if report is not None:  # a code pasted from an SMS or a call opens the report
        return redirect(url_for("workflow.report_page", code=report.code))
    # The pager keeps the search (every value of a repeated parameter) and the overdue switch.
    pager = {**asked.params(KEPT_PARAMS).to_dict(flat=False), **({"qua_han": "1"} if overdue_only else {})}
    try:
        query = asked.query()
    except search.ParamError as exc:
        error = exc.message
    if query is not None:
        units = services.scope_units(current_user)
        query.units = tuple(units) if units is not None else None
        if overdue_only:
            query.deadline_before = now()
            query.statuses = query.statuses or [Status.ACCEPTED.value, Status.PROCESSING.value]
        try:
            result = get_engine("staff").search(query)
        except EngineUnavailable:
            unavailable = _("Hộp thư tìm kiếm đang tạm gián đoạn; các danh sách trên trang Khu vực cán bộ "
                            "vẫn dùng được. Vui lòng thử lại sau ít phút.")
    unit_names = dict(db.session.execute(select(Unit.id, Unit.name)).all())
    ref = search.reference()
    return render_template("workflow/inbox.html", result=result, query=query, error=error,
                           unavailable=unavailable, overdue_only=overdue_only, unit_names=unit_names,
                           fields=ref.fields, status_labels=STATUS_LABELS, statuses=list(Status),
                           now_iso=now().isoformat(), args=request.args, pager=pager), (400 if error else 200)


# -- one report -----------------------------------------------------------------------------------------
def _intake(user, _report: Report) -> bool:  # noqa: ANN001
    """Accepting, refusing, marking duplicates and assigning are intake's (the service checks it too)."""
    return services.is_intake(user)


def _field_choices() -> list[tuple[str, str]]:
    return list(search.reference().fields.items())  # cached per app, in display order


def _set_choices(form: Any, report: Report) -> None:
    """The choices of the assign, correct and answer forms (shown, or just submitted)."""
    if isinstance(form, forms.AssignForm):
        form.units.choices = [(u.id, u.name) for u in db.session.scalars(
            select(Unit).where(Unit.is_intake.is_(False)).order_by(Unit.name))]
    elif isinstance(form, forms.CorrectForm):
        form.field.choices = _field_choices()
        form.ward.choices = [(code, name) for code, (name, _province) in search.reference().wards.items()]
    elif isinstance(form, forms.AnswerForm):
        form.unit.choices = [(u.id, u.name) for u in services.answer_units(current_user, report)]


def _forms(report: Report, bound: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every action form of the page; ``bound`` holds the one just submitted (kept with its errors)."""
    bound = bound or {}
    out: dict[str, Any] = {}
    for name, cls in (("accept", forms.AcceptForm), ("reject", forms.RejectForm), ("duplicate", forms.DuplicateForm),
                      ("assign", forms.AssignForm), ("correct", forms.CorrectForm), ("answer", forms.AnswerForm),
                      ("close", forms.CloseForm)):
        out[name] = bound.get(name) or cls(formdata=None, prefix=name)
        _set_choices(out[name], report)
    correct, answer = out["correct"], out["answer"]
    if "correct" not in bound:
        correct.field.data, correct.ward.data = report.field.slug, report.ward_code
    if "answer" not in bound:  # offer only the units that may write an answer now
        answer.unit.choices = [(u.id, u.name) for u in services.composing_units(current_user, report)]
    if "answer" not in bound and answer.unit.choices:
        unit_id = answer.unit.choices[0][0]
        working = services.working_answer(report, unit_id)
        template = db.session.get(AnswerTemplate, request.args.get("mau", type=int) or 0)
        if template is not None and template.field_id == report.field_id:
            answer.text.data = services.fill_template(template.text, report, db.session.get(Unit, unit_id))
        elif working is not None:
            answer.text.data = working.text
    return out


def _render(report: Report, bound: dict[str, Any] | None = None, status: int = 200):  # noqa: ANN202
    services.reveal_sender(current_user, report)  # audited for a confidential sender
    db.session.commit()
    user = current_user
    return render_template(
        "workflow/report.html", report=report, forms=_forms(report, bound),
        can_intake=services.is_intake(user) and report.status == Status.PENDING,
        can_assign=services.is_intake(user) and report.status in (Status.ACCEPTED, Status.PROCESSING),
        can_correct=services.can_correct(user, report),
        can_answer=bool(services.composing_units(user, report)) or "answer" in (bound or {}),
        can_close=services.can_close(user, report), can_approve=services.can_approve,
        overdue=services.is_overdue(report), templates=services.templates_for(report),
        return_form=forms.ReturnForm(formdata=None, prefix="return")), status


@bp.get("/pakn/<code>")
@staff_required(*STAFF)
def report_page(code: str):
    return _render(access.staff_report(code))


def _act(code: str, name: str, form_cls: type, action: Callable[[Report, Any], Any], done: str,
         may: Callable[[Any, Report], object]):  # noqa: ANN202
    """Validate the submitted form, run the action, commit; on error the page comes back with the input.

    ``may`` is the action's rule: a report the user may see but not act on answers 403 before any work.
    """
    report = access.staff_report(code, may)
    form = form_cls(prefix=name)
    _set_choices(form, report)
    if form.validate_on_submit():
        try:
            action(report, form)
            db.session.commit()
            flash(done, "success")
            return redirect(url_for("workflow.report_page", code=report.code))
        except WorkflowError as exc:  # a 403 here (rights changed meanwhile) comes back as the page + message
            db.session.rollback()
            target = getattr(form, exc.field or "", None)
            if target is not None:
                target.errors = [*target.errors, exc.message]
            else:
                flash(exc.message, "error")
            report = access.staff_report(code)
            return _render(report, {name: form}, exc.status)
    return _render(report, {name: form}, 400)


@bp.post("/pakn/<code>/tiep-nhan")
@staff_required(*STAFF)
def accept(code: str):
    return _act(code, "accept", forms.AcceptForm,
                lambda r, f: services.accept(current_user, r, bool(f.publish.data), f.note.data or ""),
                _("Đã tiếp nhận phản ánh."), _intake)


@bp.post("/pakn/<code>/khong-tiep-nhan")
@staff_required(*STAFF)
def reject(code: str):
    return _act(code, "reject", forms.RejectForm, lambda r, f: services.reject(current_user, r, f.reason.data or ""),
                _("Đã ghi nhận không tiếp nhận; người gửi sẽ được báo lý do."), _intake)


@bp.post("/pakn/<code>/trung")
@staff_required(*STAFF)
def duplicate(code: str):
    return _act(code, "duplicate", forms.DuplicateForm,
                lambda r, f: services.mark_duplicate(current_user, r, f.original.data or "", f.note.data or ""),
                _("Đã đánh dấu phản ánh trùng."), _intake)


@bp.post("/pakn/<code>/phan-cong")
@staff_required(*STAFF)
def assign(code: str):
    def run(report: Report, form: forms.AssignForm) -> None:
        units = list(db.session.scalars(select(Unit).where(Unit.id.in_(form.units.data or []))))
        services.assign(current_user, report, units, form.deadline.data, form.note.data or "")

    return _act(code, "assign", forms.AssignForm, run, _("Đã phân công xử lý."), _intake)


@bp.post("/pakn/<code>/sua")
@staff_required(*STAFF)
def correct(code: str):
    return _act(code, "correct", forms.CorrectForm,
                lambda r, f: services.correct(current_user, r, f.field.data, f.ward.data),
                _("Đã sửa thông tin phân loại."), services.can_correct)


@bp.post("/pakn/<code>/tra-loi")
@staff_required(*STAFF)
def answer(code: str):
    submit = request.form.get("action") == "submit"

    def run(report: Report, form: forms.AnswerForm) -> None:
        unit = db.session.get(Unit, form.unit.data)
        files = [services.NewFile(f.filename or "tep", f.read()) for f in request.files.getlist("answer-files")
                 if f and f.filename]
        services.save_answer(current_user, report, unit, form.text.data or "", files, submit)

    return _act(code, "answer", forms.AnswerForm, run,
                _("Đã gửi trả lời để lãnh đạo duyệt.") if submit else _("Đã lưu bản nháp trả lời."),
                services.can_answer)


@bp.post("/pakn/<code>/dong")
@staff_required(*STAFF)
def close(code: str):
    return _act(code, "close", forms.CloseForm, lambda r, f: services.close(current_user, r, f.note.data or ""),
                _("Đã đóng phản ánh."), services.can_close)


def _decide(answer_id: int, action: Callable[[Answer], None], done: str):  # noqa: ANN202
    """A leader's approval or return of an answer: another unit's answer is a 404, an answer the
    leader sees but may not approve a 403, a wrong state a message."""
    answer = access.staff_answer(answer_id, services.can_approve)
    try:
        action(answer)
        db.session.commit()
        flash(done, "success")
    except WorkflowError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("workflow.report_page", code=answer.report.code))


@bp.post("/tra-loi/<int:answer_id>/duyet")
@staff_required(RoleName.LEADER)
def approve_answer(answer_id: int):
    return _decide(answer_id, lambda a: services.approve_answer(current_user, a),
                   _("Đã duyệt và công bố trả lời; người gửi được báo qua SMS."))


@bp.post("/tra-loi/<int:answer_id>/tra-lai")
@staff_required(RoleName.LEADER)
def return_answer(answer_id: int):
    note = forms.ReturnForm(prefix="return").note.data or ""
    return _decide(answer_id, lambda a: services.return_answer(current_user, a, note),
                   _("Đã trả lại dự thảo để đơn vị sửa."))


# -- answer templates ---------------------------------------------------------------------------------
@bp.route("/mau-tra-loi", methods=["GET", "POST"])
@staff_required(*STAFF)
def templates():
    form = forms.TemplateForm()
    form.field.choices = _field_choices()
    may_add = services.is_admin(current_user) or bool(services.unit_ids(current_user, RoleName.LEADER))
    status = 200
    if request.method == "POST":
        if not may_add:
            abort(403)
        if form.validate_on_submit():
            try:
                services.add_template(current_user, form.field.data, form.title.data, form.text.data)
                db.session.commit()
                flash(_("Đã thêm mẫu trả lời."), "success")
                return redirect(url_for("workflow.templates"))
            except WorkflowError as exc:
                db.session.rollback()
                getattr(form, exc.field or "title").errors.append(exc.message)
        status = 400
    items = db.session.scalars(select(AnswerTemplate).join(Field).order_by(Field.position, AnswerTemplate.title)).all()
    return render_template("workflow/templates.html", form=form, items=items, may_add=may_add,
                           placeholder_hint="; ".join(f"{{{name}}} = {label}"
                                                      for name, label in services.TEMPLATE_PLACEHOLDERS.items())), status
