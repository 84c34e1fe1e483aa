"""Public report page and the sending pages."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from indexer.documents import build_document
from webapp.extensions import db
from webapp.reports.codes import normalize_code
from webapp.reports.models import Report
from webapp.search.services import item_json

bp = Blueprint("reports", __name__)


@bp.get("/gui-phan-anh")
def send_report():
    return render_template(
        "main/coming_soon.html", title=_("Gửi phản ánh"),
        text=_("Biểu mẫu gửi phản ánh kiến nghị đang được hoàn thiện và sẽ sớm được mở."))


@bp.get("/gui-hien-ke")
def send_idea():
    return render_template(
        "main/coming_soon.html", title=_("Gửi hiến kế"),
        text=_("Biểu mẫu gửi hiến kế đang được hoàn thiện và sẽ sớm được mở."))


@bp.get("/pakn/<code>")
def public_report(code: str):
    """A published report; the sender is shown only when not confidential, the phone masked."""
    normalized = normalize_code(code)
    if not normalized:
        abort(404)
    report = db.session.scalar(select(Report).where(Report.code == normalized))
    # What is public is decided by the document builder, here as in search.
    doc = build_document(report) if report is not None else None
    if doc is None:
        abort(404)
    return render_template("reports/public.html", report=report, item=item_json(doc))
