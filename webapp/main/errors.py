"""Vietnamese error pages (HTML) and JSON errors for the API, never a stack trace."""

from __future__ import annotations

import time

from flask import Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.errors import json_error, renderer_for
from webapp.extensions import db, limiter


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Yêu cầu không hợp lệ"), _("Trình duyệt đã gửi một yêu cầu mà hệ thống không hiểu được.")),
        403: (_("Không có quyền truy cập"), _("Bạn không có quyền xem trang này.")),
        404: (_("Không tìm thấy trang"), _("Trang bạn tìm không tồn tại hoặc đã được chuyển đi.")),
        405: (_("Phương thức không được hỗ trợ"), _("Trang này không nhận loại yêu cầu vừa gửi.")),
        413: (_("Tệp quá lớn"), _("Dữ liệu gửi lên vượt quá dung lượng cho phép.")),
        429: (_("Quá nhiều yêu cầu"), _("Bạn thao tác quá nhanh. Vui lòng thử lại sau ít phút.")),
        500: (_("Lỗi hệ thống"), _("Đã có lỗi xảy ra phía máy chủ. Dữ liệu bạn đã gửi không bị mất; "
                                   "vui lòng thử lại sau.")),
        503: (_("Dịch vụ tạm thời gián đoạn"), _("Vui lòng thử lại sau ít phút.")),
    }


def retry_after_seconds() -> int | None:
    """Seconds until the request limit the current request broke resets (Flask-Limiter), if any."""
    try:
        current = limiter.current_limit
        # The limiter's reset is a Unix time from its storage (Redis or memory), which follows the
        # system clock, not the app's: compare it with the system time, not webapp.clock.
        return max(1, int(current.reset_at - time.time())) if current is not None else None
    except Exception:  # noqa: BLE001 - the limiter's storage may be away; the message then says less
        return None


def render_error(code: int):
    title, text = _messages().get(code, _messages()[500])
    if code == 429 and request.path.startswith(("/api/", "/open311/")):
        wait = retry_after_seconds()
        text = _("Vui lòng thử lại sau %(n)d giây.", n=wait) if wait else _("Vui lòng thử lại sau ít phút.")
    render = renderer_for(request.path)  # a feature with its own error format (Open311)
    if render is not None:
        return render(code, title + ". " + text)
    if request.path.startswith("/api/"):
        name = "rate_limited" if code == 429 else f"http_{code}"
        return json_error(name, title + ". " + text, code)
    return render_template("errors/error.html", code=code, title=title, text=text), code


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return render_error(exc.code or 500)

    @app.errorhandler(Exception)
    def unhandled(exc: Exception):
        if isinstance(exc, HTTPException):
            return render_error(exc.code or 500)
        app.logger.exception("Unhandled error on %s", request.path)
        db.session.rollback()
        return render_error(InternalServerError.code)
