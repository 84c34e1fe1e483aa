"""A citizen logs in by OTP, sends a report with a photo, sees its code, and finds it in Tra cứu
once it is published."""

from __future__ import annotations

import re
import time

from PIL import Image

from tests.e2e.test_login_e2e import login_by_otp


def test_send_a_report_with_a_photo_then_find_it(live_server, page, tmp_path):
    photo = tmp_path / "anh-ngap.jpg"
    Image.new("RGB", (320, 240), (30, 90, 200)).save(photo, "JPEG")
    base = live_server.url
    page.goto(f"{base}/gui-phan-anh")
    page.wait_for_url(re.compile(r".*/dang-nhap\?next="))
    login_by_otp(page, live_server, "0912 000 444")
    page.wait_for_url("**/gui-phan-anh")  # back where the citizen wanted to go

    page.get_by_label("Tiêu đề").fill("Đường Trưng Nữ Vương ngập nước sau mưa lớn")
    page.get_by_label("Nội dung").fill("Nước ngập sâu 40 cm trước chợ, xe máy chết máy hàng loạt.")
    page.get_by_label("Lĩnh vực").select_option("cap-thoat-nuoc")
    page.locator("#region").select_option("25708")
    page.get_by_label("Địa chỉ cụ thể").fill("Số 15 đường Trưng Nữ Vương")
    page.get_by_label("Họ và tên người gửi").fill("Trần Văn Bình")
    page.get_by_label("Tệp đính kèm (ảnh, PDF, Word, Excel)").set_input_files(str(photo))
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_url("**/da-gui/*")
    code = page.locator(".tracking-code").inner_text().strip()
    assert code.startswith("PA-")

    # Published directly (the staff pages' accept step has its own E2E in test_workflow_e2e.py);
    # the indexer runs in the background thread of the server, as on `make run`.
    with live_server.app.app_context():
        from sqlalchemy import select

        from webapp.extensions import db
        from webapp.reports.models import Report

        report = db.session.scalar(select(Report).where(Report.code == code))
        assert len(report.attachments) == 1
        report.published = True
        db.session.commit()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        page.goto(f"{base}/tra-cuu?q=trung+nu+vuong+ngap")
        if code in page.content():
            break
        time.sleep(0.5)
    assert code in page.content()
    assert "<mark>" in page.inner_html(".results")
    page.get_by_role("link", name="Đường Trưng Nữ Vương ngập nước sau mưa lớn").click()
    assert "Trần Văn Bình" in page.content()
