"""A citizen logs in by phone OTP in real Chromium, reading the code from the `file` SMS backend."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE_WIDTH, open_user_menu


def wait_for_code(sms_file: Path, phone: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sms_file.exists():
            for line in reversed(sms_file.read_text(encoding="utf-8").splitlines()):
                message = json.loads(line)
                if message["to"] == phone:
                    return re.search(r"\b(\d{6})\b", message["text"]).group(1)
        time.sleep(0.1)
    raise AssertionError("no SMS arrived")


def login_by_otp(page, server, typed: str) -> None:
    """On the login page: type the phone, ask for a code, read it from the SMS file, confirm."""
    page.get_by_label("Số điện thoại").fill(typed)
    page.get_by_role("button", name="Nhận mã qua SMS").click()
    page.wait_for_url("**/dang-nhap/ma")
    phone = re.sub(r"\D", "", typed)
    page.get_by_label("Mã xác thực (6 chữ số)").fill(wait_for_code(Path(server.app.config["SMS_FILE_PATH"]), phone))
    page.get_by_role("button", name="Xác nhận").click()


@pytest.mark.parametrize("page", [DESKTOP, PHONE_WIDTH], indirect=True,
                         ids=["desktop", "phone"])
def test_citizen_logs_in_by_otp(live_server, page):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/")
    if page.viewport_size["width"] < 860:
        page.get_by_text("Menu").click()
    page.get_by_role("link", name="Đăng nhập").click()
    page.get_by_label("Số điện thoại").fill("+84 912 345 678")
    page.get_by_role("button", name="Nhận mã qua SMS").click()
    page.wait_for_url("**/dang-nhap/ma")
    assert "091*****78" in page.content()
    first = page.locator("#otp-left").inner_text()
    assert first in {str(n) for n in range(50, 61)}
    # The countdown runs (waits for the next tick, no fixed sleep).
    expect(page.locator("#otp-left")).not_to_have_text(first)
    assert int(page.locator("#otp-left").inner_text()) < int(first)
    code = wait_for_code(Path(live_server.app.config["SMS_FILE_PATH"]), "0912345678")
    page.get_by_label("Mã xác thực (6 chữ số)").fill(code)
    page.get_by_role("button", name="Xác nhận").click()
    page.wait_for_url(f"{live_server.url}/")
    assert "Đăng nhập thành công" in page.content()
    assert open_user_menu(page).get_by_role("button", name="Đăng xuất").count() == 1
    assert not [e for e in errors if "Content Security Policy" in e]


def test_wrong_code_shows_a_message_and_keeps_the_page(live_server, page):
    page.goto(f"{live_server.url}/dang-nhap")
    page.get_by_label("Số điện thoại").fill("0987 654 321")
    page.get_by_role("button", name="Nhận mã qua SMS").click()
    page.wait_for_url("**/dang-nhap/ma")
    wait_for_code(Path(live_server.app.config["SMS_FILE_PATH"]), "0987654321")
    page.get_by_label("Mã xác thực (6 chữ số)").fill("000000")
    page.get_by_role("button", name="Xác nhận").click()
    assert "Mã xác thực không đúng" in page.content() or "còn 4 lần" in page.content()
