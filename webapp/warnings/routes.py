"""Warnings: the public page, banner, API and Atom feed; the staff list, form and approval."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp import access, feeds
from webapp.access import staff_required
from webapp.auth.models import RoleName, Unit
from webapp.extensions import db
from webapp.reference.models import Ward
from webapp.warnings import services
from webapp.warnings.forms import RejectForm, WarningForm
from webapp.warnings.models import WARNING_LEVEL_LABELS, PublicWarning, WarningLevel
from webapp.warnings.services import WarningDraft, WarningError

bp = Blueprint("warnings", __name__)
LOCAL = "dd/MM/yyyy HH:mm"  # as the pages show times
STATE_LABELS = {"draft": "Nháp", "pending": "Chờ duyệt", "approved": "Đã duyệt", "rejected": "Từ chối"}


@bp.get("/canh-bao")
def index():
    return render_template("warnings/index.html", warnings=services.active(), archive=services.archive(),
                           level_labels={k.value: v for k, v in WARNING_LEVEL_LABELS.items()}, levels=WarningLevel)


@bp.get("/api/v1/warnings/active")
def api_active():
    return jsonify([services.as_json(w) for w in services.active()])


@bp.get("/canh-bao/feed.atom")
def feed():
    warnings = services.active() + services.archive(limit=20)
    page = url_for("warnings.index", _external=True)
    entries = [feeds.Entry(
        id=f"{page}#canh-bao-{w.id}", title=w.title, link=f"{page}#canh-bao-{w.id}", updated=w.updated_at,
        published=w.starts_at, author=w.unit.name,
        summary=f"{w.content} (" + _("Hiệu lực từ %(start)s đến %(end)s", start=format_datetime(w.starts_at, LOCAL),
                                     end=format_datetime(w.ends_at, LOCAL)) + ")") for w in warnings]
    self_url = url_for("warnings.feed", _external=True)
    return current_app.response_class(feeds.atom(
        feed_id=self_url, title=_("Cảnh báo") + " · PAKN", self_url=self_url, alternate_url=page,
        updated=max((w.updated_at for w in warnings), default=services.now()).astimezone(UTC), entries=entries),
        mimetype="application/atom+xml")


# -- staff ---------------------------------------------------------------------------------------------
def _units_for(user) -> list[Unit]:  # noqa: ANN001
    if user.has_role(RoleName.ADMIN):
        return list(db.session.scalars(select(Unit).order_by(Unit.name)))
    ids = user.units_with_role(RoleName.OFFICER, RoleName.LEADER)
    return list(db.session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.name)))


def _form(warning: PublicWarning | None = None) -> WarningForm:
    form = WarningForm(obj=None)
    form.unit.choices = [(u.id, u.name) for u in _units_for(current_user)]
    provinces = [int(c) for c in current_app.config["PROVINCES"]]
    form.wards.choices = [(w.code, w.name) for w in db.session.scalars(
        select(Ward).where(Ward.province_code.in_(provinces)).order_by(Ward.name))]
    if warning is not None and request.method == "GET":
        tz = ZoneInfo(current_app.config["TIMEZONE"])
        form.unit.data = warning.unit_id
        form.title.data, form.content.data, form.level.data = warning.title, warning.content, warning.level
        form.whole_province.data = warning.whole_province
        form.wards.data = [r.code for r in warning.regions]
        form.starts_at.data = warning.starts_at.astimezone(tz).replace(tzinfo=None)
        form.ends_at.data = warning.ends_at.astimezone(tz).replace(tzinfo=None)
    return form


def _draft(form: WarningForm) -> WarningDraft:
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    return WarningDraft(
        title=form.title.data or "", content=form.content.data or "", level=form.level.data,
        ward_codes=list(form.wards.data or []), whole_province=bool(form.whole_province.data),
        starts_at=form.starts_at.data.replace(tzinfo=tz).astimezone(UTC) if form.starts_at.data else None,
        ends_at=form.ends_at.data.replace(tzinfo=tz).astimezone(UTC) if form.ends_at.data else None)


def _apply_error(form: WarningForm, exc: WarningError) -> None:
    """Show a service refusal at its field (the ward list for "regions"; the title otherwise)."""
    target = form.wards if exc.field == "regions" else getattr(form, exc.field or "", None) or form.title
    target.errors = [*target.errors, exc.message]


@bp.get("/can-bo/canh-bao")
@staff_required()
def staff_list():
    units = services.visible_to(current_user)
    query = select(PublicWarning).order_by(PublicWarning.created_at.desc()).limit(200)
    if units is not None:
        query = query.where(PublicWarning.unit_id.in_(units))
    return render_template("warnings/staff_list.html", warnings=db.session.scalars(query).all(),
                           state_labels=STATE_LABELS, can_approve=services.can_approve, reject_form=RejectForm(),
                           level_labels={k.value: v for k, v in WARNING_LEVEL_LABELS.items()}, now=services.now())


def _save(form: WarningForm, warning: PublicWarning | None, change, done: str):  # noqa: ANN001, ANN202
    """Validate the form, apply ``change`` to the draft, commit; the form comes back on any error."""
    if form.validate_on_submit():
        try:
            change(_draft(form))
            db.session.commit()
            flash(done, "success")
            return redirect(url_for("warnings.staff_list"))
        except WarningError as exc:
            db.session.rollback()
            _apply_error(form, exc)
    status = 400 if request.method == "POST" else 200
    return render_template("warnings/form.html", form=form, warning=warning), status


@bp.route("/can-bo/canh-bao/moi", methods=["GET", "POST"])
@staff_required(RoleName.OFFICER, RoleName.LEADER, RoleName.ADMIN)
def create():
    form = _form()
    return _save(form, None,
                 lambda draft: services.create(current_user, db.session.get(Unit, form.unit.data), draft),
                 _("Đã gửi cảnh báo để lãnh đạo duyệt."))


@bp.route("/can-bo/canh-bao/<int:warning_id>/sua", methods=["GET", "POST"])
@staff_required(RoleName.OFFICER, RoleName.LEADER, RoleName.ADMIN)
def edit(warning_id: int):
    warning = access.staff_warning(warning_id)  # another unit's warning is not even acknowledged
    return _save(_form(warning), warning, lambda draft: services.edit(current_user, warning, draft),
                 _("Đã lưu; cảnh báo được gửi duyệt lại."))


def _decide(warning_id: int, action, done: str):  # noqa: ANN001, ANN202
    """A leader's approval or rejection: another unit's warning is a 404, one the user sees but may not
    approve a 403, a wrong state a message."""
    warning = access.staff_warning(warning_id, services.can_approve)
    try:
        action(warning)
        db.session.commit()
        flash(done, "success")
    except WarningError as exc:
        flash(exc.message, "error")
    return redirect(url_for("warnings.staff_list"))


@bp.post("/can-bo/canh-bao/<int:warning_id>/duyet")
@staff_required(RoleName.LEADER, RoleName.ADMIN)
def approve(warning_id: int):
    return _decide(warning_id, lambda w: services.approve(current_user, w), _("Đã duyệt cảnh báo."))


@bp.post("/can-bo/canh-bao/<int:warning_id>/tu-choi")
@staff_required(RoleName.LEADER, RoleName.ADMIN)
def reject(warning_id: int):
    reason = RejectForm().reason.data or ""
    return _decide(warning_id, lambda w: services.reject(current_user, w, reason), _("Đã từ chối cảnh báo."))
