"""Login pages (phone OTP, SSO and staff login are built by the accounts issue)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

bp = Blueprint("auth", __name__)


@bp.get("/dang-nhap")
def login():
    return render_template(
        "main/coming_soon.html", title=_("Đăng nhập"),
        text=_("Đăng nhập bằng số điện thoại và mã OTP, tài khoản dịch vụ công hoặc Google "
               "đang được hoàn thiện và sẽ sớm được mở."))
