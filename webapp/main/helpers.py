"""Template filters and globals (local dates, masked phones, Vietnamese number format) and
``safe_next``, the check of every redirect target a request names."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, request, url_for
from flask_babel import format_datetime, format_number, get_locale
from sqlalchemy.exc import SQLAlchemyError

from indexer.text import mask_phone
from webapp.warnings.services import active
from webapp.workflow.services import is_overdue as overdue


def local_datetime(value: datetime | None, fmt: str = "dd/MM/yyyy HH:mm") -> str:
    """Show an aware UTC timestamp in the configured time zone (Asia/Ho_Chi_Minh)."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def local_date(value: datetime | None) -> str:
    return local_datetime(value, "dd/MM/yyyy")


def iso_local_date(value: str | None) -> str:
    """A document's ISO timestamp shown as a local date."""
    if not value:
        return ""
    return local_date(datetime.fromisoformat(value))


def safe_next(target: str | None) -> str:
    """A redirect target on this site only (never an absolute or scheme-relative URL)."""
    if not target:
        return url_for("main.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return url_for("main.home")
    return target


def register(app: Flask) -> None:
    app.jinja_env.filters["iso_local_date"] = iso_local_date
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["number"] = format_number

    @app.template_global()
    def is_overdue(report) -> bool:  # noqa: ANN001
        """Past its answer deadline and still not answered (flagged on public and staff pages)."""
        return overdue(report)

    @app.template_global()
    def active_warnings_banner() -> list:
        """Approved warnings in force, for the banner on every page (none if the database is away)."""
        try:
            return active()
        except SQLAlchemyError:
            return []

    @app.context_processor
    def _globals() -> dict:
        return {"current_locale": str(get_locale() or app.config["DEFAULT_LOCALE"]),
                "current_path": request.full_path.rstrip("?") if request else "/"}
