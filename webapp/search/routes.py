"""Tra cứu: the public list of published reports (full-text search comes with the search issue)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from webapp.extensions import db
from webapp.reports.models import Report

bp = Blueprint("search", __name__)


@bp.get("/tra-cuu")
def index():
    page = request.args.get("page", 1, type=int) or 1
    query = (select(Report).where(Report.published.is_(True))
             .order_by(Report.submitted_at.desc(), Report.id.desc()))
    pagination = db.paginate(query, page=max(page, 1), per_page=current_app.config["PAGE_SIZE"],
                             error_out=False)
    return render_template("search/index.html", pagination=pagination)
