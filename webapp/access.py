"""Who may open what: the login and staff decorators and one loader per resource.

Every route that opens a report, an attachment, an answer, a warning, a saved search or an API key
by its id or code goes through a loader here, which fetches the row and applies the access rule:

- 404 for what the current user may not see (it is not even acknowledged that it exists);
- 403 for what they may see but may not do (``may``: the action's rule, from the feature's services).

The rules themselves live with their feature and are called from here, never copied:
``webapp.workflow.services`` (staff scope: ``can_view``, ``can_approve``, ``is_intake``, …),
``webapp.warnings.services`` (``can_edit``, ``can_approve``), ``webapp.reports.services.lookup``
(code + the sender's phone). The one rule defined here is the one that spans features: who may see
a report and its files (``may_see_report``, ``may_see_attachment``).

Pages that need a login use Flask-Login's ``login_required`` (its answer is ``unauthorized`` below:
the login page with ``next``, or a 401 JSON error under ``/api/``); staff pages use
``staff_required``; JSON views may use ``login_required_json``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import Forbidden

from webapp.errors import json_error
from webapp.extensions import db
from webapp.opendata import apikeys
from webapp.opendata.models import ApiKey, SavedSearch
from webapp.reports import services as report_services
from webapp.reports.codes import normalize_code
from webapp.reports.models import Answer, Attachment, Report
from webapp.warnings import services as warning_services
from webapp.warnings.models import PublicWarning
from webapp.workflow import services as workflow

T = TypeVar("T")
Rule = Callable[[Any, T], object]  # (user, row) -> allowed?

API_PREFIX = "/api/"
# What an anonymous visitor is told on the login page, by the blueprint of the page they asked for.
LOGIN_MESSAGES = {
    "reports": _l("Vui lòng đăng nhập để gửi phản ánh, hiến kế."),
    "opendata": _l("Vui lòng đăng nhập để lưu tìm kiếm và nhận thư báo."),
}


# -- logging in ----------------------------------------------------------------------------------------
def _login_json():  # noqa: ANN202
    return json_error("login_required", _("Vui lòng đăng nhập."), 401)


def _login_page(view: str):  # noqa: ANN202
    return redirect(url_for(view, next=request.full_path.rstrip("?")))


def unauthorized():  # noqa: ANN201 - Flask-Login's unauthorized handler (installed by create_app)
    """An anonymous request for a login-only view: 401 JSON under /api/, else the login page and back."""
    if request.path.startswith(API_PREFIX):
        return _login_json()
    message = LOGIN_MESSAGES.get(request.blueprint or "")
    if message:
        flash(str(message), "error")
    return _login_page("auth.login")


def login_required_json(view):  # noqa: ANN001, ANN201
    """For JSON views: a logged-in user, else 401 ``login_required`` (never a redirect to a page)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):  # noqa: ANN202
        if not current_user.is_authenticated:
            return _login_json()
        return view(*args, **kwargs)
    return wrapped


def staff_required(*roles: str):  # noqa: ANN201
    """Only logged-in staff, and (when given) only with one of ``roles`` (checked on every request).

    Anonymous: the staff login page, then back; a citizen or a staff member without the role: 403.
    """

    def decorator(view):  # noqa: ANN001, ANN202
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):  # noqa: ANN202
            if not current_user.is_authenticated:
                return _login_page("staff.login")
            if not current_user.is_staff:
                abort(403)
            if roles and not any(current_user.has_role(r) for r in roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def _user() -> Any:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _check(row: T | None, see: Rule[T], may: Rule[T] | None = None) -> T:
    """``row`` when the user may see it (else 404) and, when ``may`` is given, do it (else 403)."""
    user = _user()
    if row is None or not see(user, row):
        abort(404)
    if may is not None and not may(user, row):
        abort(403)
    return row


# -- the rules that span features ----------------------------------------------------------------------
def owns(user: Any, report: Report) -> bool:
    """The citizen who sent ``report`` (from their account)."""
    return bool(user.is_authenticated and report.user_id is not None and report.user_id == user.id)


def is_published(report: Report) -> bool:
    """The public sees a report once intake published it."""
    return bool(report.published)


def may_see_report(user: Any, report: Report) -> bool:
    """Intake and admins see every report, a unit those assigned to it, the sender their own,
    everyone the published ones."""
    return is_published(report) or owns(user, report) or workflow.can_view(user, report)


def may_see_attachment(user: Any, item: Attachment) -> bool:
    """Files follow their report (``may_see_report``), except that a draft answer's file is for staff
    in scope only, and a confidential report's files are not public (they may show the sender)."""
    report = item.report
    if not may_see_report(user, report):
        return False
    if workflow.can_view(user, report):
        return True
    if item.answer is not None and item.answer.published_at is None:
        return False
    return owns(user, report) or not report.confidential


# -- loaders -------------------------------------------------------------------------------------------
def _by_code(code: str) -> Report | None:
    normalized = normalize_code(code)
    return db.session.scalar(select(Report).where(Report.code == normalized)) if normalized else None


def find_published_report(code: str) -> Report | None:
    """The published report with this code, or None (unknown and unpublished alike: a search box
    must not tell which codes exist)."""
    report = _by_code(code)
    return report if report is not None and is_published(report) else None


def find_staff_report(code: str) -> Report | None:
    """The report with this code when it is in the user's staff scope, or None."""
    report = _by_code(code)
    return report if report is not None and workflow.can_view(_user(), report) else None


def staff_report(code: str, may: Rule[Report] | None = None) -> Report:
    """A report on the staff side (staff page and actions): in the user's staff scope, else 404."""
    return _check(_by_code(code), workflow.can_view, may)


def own_report(code: str) -> Report:
    """A report of the logged-in sender ("PAKN của tôi"); anyone else's is a 404."""
    return _check(_by_code(code), owns)


def published_report(code: str) -> Report:
    """A report as the public sees it (page, API detail): published, else 404 (under /api/ the API's
    JSON ``not_found`` on the field ``code``)."""
    report = _by_code(code)
    if report is None or not is_published(report):
        if request.path.startswith(API_PREFIX):
            response, status = json_error("not_found", _("Không tìm thấy phản ánh công khai có mã này."), 404, "code")
            response.status_code = status
            abort(response)
        abort(404)
    return report


def looked_up_report(code: str, phone: str | None) -> Report | None:
    """"Tra cứu mã": the report with this code sent from this phone; None in every other case."""
    return report_services.lookup(code, phone)


def attachment(attachment_id: int) -> Attachment:
    """A stored file (``/tep/<id>``) for who may see it (``may_see_attachment``), else 404."""
    return _check(db.session.get(Attachment, attachment_id), may_see_attachment)


def staff_answer(answer_id: int, may: Rule[Answer] | None = None) -> Answer:
    """An answer on the staff side: its report in the user's staff scope, else 404."""
    return _check(db.session.get(Answer, answer_id), lambda user, answer: workflow.can_view(user, answer.report), may)


def staff_warning(warning_id: int, may: Rule[PublicWarning] | None = None) -> PublicWarning:
    """A warning on the staff side: of the user's unit (admins: any), else 404."""
    return _check(db.session.get(PublicWarning, warning_id), warning_services.can_edit, may)


def own_saved_search(saved_id: int) -> SavedSearch:
    """A saved search of the logged-in user; anyone else's is a 404. (The unsubscribe link in an
    alert is authorised by its signed token instead: see ``webapp.opendata.routes.unsubscribe``.)"""
    return _check(db.session.get(SavedSearch, saved_id),
                  lambda user, saved: user.is_authenticated and saved.user_id == user.id)


class ApiKeyRefused(Forbidden):
    """403: the request's API key is missing or may not do what is asked (``description`` says why)."""


def sending_api_key() -> ApiKey:
    """The request's API key (header, or ``api_key`` on Open311), which must be allowed to send
    reports; else ``ApiKeyRefused`` (403). An unknown or revoked key never gets this far: it is
    refused before any view (``webapp.opendata.apikeys.install``, Open311's ``before_request``)."""
    key = apikeys.current().key
    if key is None:
        raise ApiKeyRefused(_("Gửi phản ánh qua Open311 cần khóa API (tham số api_key hoặc tiêu đề X-API-Key)."))
    if not key.can_write:
        raise ApiKeyRefused(_("Khóa API này chỉ có quyền đọc; gửi phản ánh cần khóa có quyền ghi."))
    return key
