"""Sending reports and ideas, safe attachments, confidentiality, tracking, lookup, API."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from PIL import Image
from sqlalchemy import func, select

from webapp.reports.models import Attachment, Report, Upload

PHONE = "0912345678"
WARD = "25708"  # Phường Trảng Bàng, Tây Ninh


def text(response) -> str:
    return response.get_data(as_text=True)


def form(**overrides):
    data = {"title": "Đường Hùng Vương ngập nước sau mưa", "content": "Mỗi khi mưa lớn đoạn đường ngập sâu 40 cm.",
            "field": "cap-thoat-nuoc", "ward": WARD, "address": "Số 10 đường Hùng Vương",
            "sender_kind": "individual", "sender_name": "Nguyễn Văn An", "sender_phone": PHONE,
            "idempotency_key": "key-1"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    gps = {1: "N", 2: (11.0, 18.0, 30.0), 3: "E", 4: (106.0, 6.0, 0.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def docx(extra: dict[str, bytes] | None = None, big: int = 0) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>" + " " * big)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def citizen(client, otp_login):
    otp_login(PHONE)
    return client


def send(client, path="/gui-phan-anh", files=(), **overrides):
    data = form(**overrides)
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(path, data=data, content_type="multipart/form-data")


# -- sending ------------------------------------------------------------------------------------------
def test_send_a_report_with_a_photo_and_see_its_code(app, citizen, session, clock):
    page = text(citizen.get("/gui-phan-anh"))
    assert 'value="0912345678"' in page and "readonly" in page  # the verified phone of the login
    response = send(citizen, files=[("anh.jpg", jpeg_with_gps())])
    assert response.status_code == 302, text(response)[:2000]
    code = response.headers["Location"].rsplit("/", 1)[1]
    assert re.fullmatch(r"PA-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    sent_page = text(citizen.get(f"/da-gui/{code}"))
    assert code in sent_page and "091*****78" in sent_page
    report = session.scalar(select(Report).where(Report.code == code))
    assert report.status == "pending" and not report.published and report.user_id is not None
    assert [e.to_status for e in report.events] == ["pending"]
    from pathlib import Path

    assert code in Path(app.config["SMS_FILE_PATH"]).read_text(encoding="utf-8")  # the tracking-code SMS
    (attachment,) = report.attachments
    served = citizen.get(f"/tep/{attachment.id}")
    assert served.status_code == 200 and served.headers["X-Content-Type-Options"] == "nosniff"
    assert "inline" in served.headers["Content-Disposition"] and "anh.jpg" in served.headers["Content-Disposition"]
    image = Image.open(io.BytesIO(served.data))
    assert dict(image.getexif()) == {} and b"CameraMaker" not in served.data


def test_an_idea_needs_no_address(citizen, session, clock):
    response = send(citizen, path="/gui-hien-ke", address=None, title="Đề xuất trồng thêm cây xanh")
    assert response.status_code == 302
    assert session.scalar(select(Report).where(Report.title == "Đề xuất trồng thêm cây xanh")).code.startswith("HK-")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"title": ""}, "Vui lòng nhập tiêu đề"),
    ({"content": "ngắn"}, "Nội dung dài 10–10.000 ký tự"),
    ({"field": ""}, "Vui lòng chọn lĩnh vực"),
    ({"field": "the-thao"}, "Lĩnh vực không tồn tại."),  # was WTForms' English "Not a valid choice"
    ({"ward": "25747"}, "Xã, phường không thuộc địa bàn tiếp nhận."),  # a real ward, not of this deployment
    ({"address": ""}, "Vui lòng nhập địa chỉ nơi xảy ra sự việc"),
    ({"sender_kind": "organization", "organization_name": ""}, "Vui lòng nhập tên tổ chức"),
    ({"sender_name": ""}, "Vui lòng nhập họ và tên"),
    ({"sender_email": "khong-phai-email"}, "email không hợp lệ"),
    ({"incident_at": "2099-01-01T08:00"}, "không thể ở tương lai"),
    ({"lat": "11.3"}, "Cần cả vĩ độ và kinh độ"),
    ({"lat": "48.8", "lon": "2.3"}, "không nằm trong Việt Nam"),
])
def test_bad_input_gets_a_message_at_the_field_and_keeps_everything(citizen, session, clock, overrides, message):
    response = send(citizen, **overrides)
    html = text(response)
    assert response.status_code == 400 and message in html
    assert "Số 10 đường Hùng Vương" in html or overrides.get("address") == ""
    assert "Mỗi khi mưa lớn" in html or "content" in overrides
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_uploaded_files_survive_a_form_that_comes_back(citizen, session, clock):
    response = send(citizen, files=[("anh.jpg", jpeg_with_gps())], title="")
    html = text(response)
    assert response.status_code == 400 and "anh.jpg" in html
    token = re.search(r'name="upload_token" value="([^"]+)"', html).group(1)
    response = citizen.post("/gui-phan-anh", data={**form(), "upload_token": token})
    assert response.status_code == 302
    report = session.scalar(select(Report))
    assert [a.filename for a in report.attachments] == ["anh.jpg"]
    assert session.scalar(select(func.count()).select_from(Upload)) == 0


def test_double_submit_creates_one_report(citizen, session, clock):
    first = send(citizen)
    second = send(citizen)  # same idempotency key: a double click or a retry
    assert first.headers["Location"] == second.headers["Location"]
    assert session.scalar(select(func.count()).select_from(Report)) == 1


# -- upload attacks -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "content", "message"), [
    ("anh.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;<html><script>alert(1)</script></html>", "Không nhận tệp"),
    ("hinh.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "Không nhận tệp"),
    ("trang.html", b"<!doctype html><script>alert(1)</script>", "Không nhận tệp"),
    ("anh.jpg", b"<html><script>alert(1)</script></html>", "Không nhận tệp"),  # named like an image
    ("chay.exe", b"MZ\x90\x00\x03\x00\x00\x00", "Không nhận tệp"),
    ("script.sh", b"#!/bin/sh\nrm -rf /\n", "Không nhận tệp"),
    ("macro.docx", docx({"word/vbaProject.bin": b"x"}), "macro"),
    ("bom.docx", docx(big=30_000_000), "quá lớn"),
    ("hong.jpg", b"\xff\xd8\xff\xe0garbage", "bị hỏng"),
])
def test_dangerous_files_are_refused(citizen, session, clock, name, content, message):
    response = send(citizen, files=[(name, content)])
    assert response.status_code == 400 and message in text(response)
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_a_decompression_bomb_png_is_refused(citizen, session, clock):
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 Mpx in a few kilobytes
    response = send(citizen, files=[("bom.png", out.getvalue())])
    assert response.status_code == 400 and "quá lớn" in text(response)


def test_a_jpeg_polyglot_is_re_encoded_clean(citizen, session, clock):
    payload = jpeg_with_gps() + b"<html><script>alert(1)</script></html>"
    assert send(citizen, files=[("anh.jpg", payload)]).status_code == 302
    stored = session.scalar(select(Attachment))
    served = citizen.get(f"/tep/{stored.id}").data
    assert b"<script>" not in served


def test_documents_are_accepted_by_content(citizen, session, clock):
    response = send(citizen, files=[("don.docx", docx()), ("ho-so.pdf", b"%PDF-1.4\n%...\n")])
    assert response.status_code == 302
    report = session.scalar(select(Report))
    kinds = sorted(a.content_type for a in report.attachments)
    assert kinds == ["application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]
    served = citizen.get(f"/tep/{report.attachments[0].id}")
    assert "attachment;" in served.headers["Content-Disposition"]


def test_an_oversized_file_gets_413_and_the_form_back(app, citizen, session, clock, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_MB", 1)
    big = b"\xff\xd8\xff" + b"0" * (1024 * 1024 + 10)
    response = send(citizen, files=[("to.jpg", big)])
    assert response.status_code == 413 and "lớn hơn 1 MB" in text(response)
    assert "Đường Hùng Vương ngập nước sau mưa" in text(response)


def test_too_many_files(app, citizen, session, clock, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_FILES", 2)
    response = send(citizen, files=[(f"a{i}.pdf", b"%PDF-1.4\n") for i in range(3)])
    assert response.status_code == 400 and "Tối đa 2 tệp" in text(response)


# -- who sees what -----------------------------------------------------------------------------------------
def test_confidential_sender_is_hidden_everywhere_public(app, citizen, session, search, clock):
    send(citizen, confidential="y", sender_name="Phạm Bí Mật", sender_email="bimat@example.vn",
         sender_address="Số 9 hẻm 3", title="Cống thoát nước bị tắc ở hẻm 45")
    report = session.scalar(select(Report))
    report.published = True
    search.index()
    anonymous = app.test_client()
    outputs = [
        text(anonymous.get(f"/pakn/{report.code}")),
        text(anonymous.get("/api/v1/reports?q=cong+thoat+nuoc")),
        text(anonymous.get(f"/api/v1/reports/{report.code}")),
        text(anonymous.get("/tra-cuu?q=Phạm+Bí+Mật")),
        text(anonymous.post("/api/v1/reports/search", json={"phone": PHONE})),
    ]
    assert report.code in outputs[1]  # findable by its content…
    assert "Cống thoát nước bị tắc" not in outputs[3].split("results-title")[1]  # …never by its sender
    for output in outputs:
        for secret in ("Phạm Bí Mật", "bimat@example.vn", "Số 9 hẻm 3", "0912345678", "091*****78"):
            assert secret not in output.replace('value="Phạm Bí Mật"', "")
    assert "Phạm Bí Mật" in text(citizen.get(f"/pakn-cua-toi/{report.code}"))  # the sender sees it all


def test_personal_data_in_the_text_is_masked_for_the_public(app, citizen, session, search, clock):
    send(citizen, content="Liên hệ 0987 654 321, CCCD 079123456789, email ai@example.vn, xe 51F-123.45 đỗ chắn đường.")
    report = session.scalar(select(Report))
    report.published = True
    search.index()
    public = text(app.test_client().get(f"/pakn/{report.code}"))
    for raw in ("0987 654 321", "079123456789", "ai@example.vn", "51F-123.45"):
        assert raw not in public
    assert "098*****21" in public and "a***@example.vn" in public
    assert "0987 654 321" in text(citizen.get(f"/pakn-cua-toi/{report.code}"))  # the original is kept


def test_files_of_a_report_are_served_only_to_who_may_see_them(app, citizen, session, clock, make_staff, otp_login,
                                                                staff_login):
    send(citizen, files=[("anh.jpg", jpeg_with_gps())], confidential="y")
    attachment = session.scalar(select(Attachment))
    stranger = app.test_client()
    assert stranger.get(f"/tep/{attachment.id}").status_code == 404
    clock.advance(seconds=61)
    other = app.test_client()
    otp_login("0987000111", c=other)
    assert other.get(f"/tep/{attachment.id}").status_code == 404
    staff = staff_login(make_staff("canbo7", "officer"))
    assert staff.get(f"/tep/{attachment.id}").status_code == 200
    assert citizen.get(f"/tep/{attachment.id}").status_code == 200


# -- following -----------------------------------------------------------------------------------------------
def answer(session, report):
    from webapp.auth.models import Unit
    from webapp.reports.models import Answer

    unit = Unit(name="UBND phường Trảng Bàng", slug="ubnd-trang-bang")
    report.answers.append(Answer(unit=unit, text="Đã nạo vét cống.", state="approved",
                                 answered_at=report.submitted_at, published_at=report.submitted_at))
    report.status = "answered"
    session.flush()


def test_my_reports_list_detail_rating_and_reopen(app, citizen, session, clock, otp_login):
    send(citizen)
    send(citizen, idempotency_key="key-2", title="Mất điện kéo dài ở khu phố 3")
    page = text(citizen.get("/pakn-cua-toi"))
    assert "Đường Hùng Vương ngập nước sau mưa" in page and "Mất điện kéo dài" in page
    filtered = text(citizen.get("/pakn-cua-toi?q=mất điện"))
    assert "Mất điện kéo dài" in filtered and "Hùng Vương ngập" not in filtered
    report = session.scalar(select(Report).where(Report.title.like("Đường%")))
    answer(session, report)
    detail = text(citizen.get(f"/pakn-cua-toi/{report.code}"))
    assert "Đã nạo vét cống." in detail and "Đánh giá kết quả trả lời" in detail and "Đề nghị xử lý lại" in detail
    citizen.post(f"/pakn-cua-toi/{report.code}/danh-gia", data={"rating": "4", "comment": "Khá nhanh"})
    session.refresh(report)
    assert report.rating == 4
    short = citizen.post(f"/pakn-cua-toi/{report.code}/xu-ly-lai", data={"reason": "ngắn"})
    assert short.status_code == 400
    citizen.post(f"/pakn-cua-toi/{report.code}/xu-ly-lai", data={"reason": "Sau một tuần đường vẫn ngập như cũ."})
    session.refresh(report)
    assert report.status == "processing" and "xử lý lại" in report.events[-1].note
    # Another citizen sees none of it.
    clock.advance(seconds=61)
    other = app.test_client()
    otp_login("0987000222", c=other)
    assert other.get(f"/pakn-cua-toi/{report.code}").status_code == 404
    assert "Hùng Vương" not in text(other.get("/pakn-cua-toi"))


def test_reopening_is_only_possible_within_the_configured_days(app, citizen, session, clock):
    send(citizen)
    report = session.scalar(select(Report))
    answer(session, report)
    from datetime import timedelta

    report.answers[0].answered_at = clock.now - timedelta(days=31)
    session.flush()
    response = citizen.post(f"/pakn-cua-toi/{report.code}/xu-ly-lai",
                            data={"reason": "Sau một tháng đường vẫn ngập như cũ."}, follow_redirects=True)
    assert "trong 30 ngày" in text(response)
    session.refresh(report)
    assert report.status == "answered"


def test_lookup_by_code_and_phone_gives_the_same_answer_for_wrong_phone_or_unknown_code(app, citizen, session, clock):
    send(citizen)
    report = session.scalar(select(Report))
    anonymous = app.test_client()
    ok = text(anonymous.post("/tra-cuu-ma", data={"code": report.code.lower(), "phone": "+84 912 345 678"}))
    assert "Chờ tiếp nhận" in ok and "Tiến trình xử lý" in ok
    wrong_phone = text(anonymous.post("/tra-cuu-ma", data={"code": report.code, "phone": "0987654321"}))
    unknown = text(anonymous.post("/tra-cuu-ma", data={"code": "PA-2222-2222", "phone": "0912345678"}))
    message = "Không tìm thấy phản ánh với mã và số điện thoại này."
    assert message in wrong_phone and message in unknown
    assert "Tiến trình xử lý" not in wrong_phone


# -- API ---------------------------------------------------------------------------------------------------
def test_api_send_json_and_list_mine(citizen, session, clock):
    body = {"type": "pakn", "title": "Đèn đường hỏng trên Quốc lộ 22", "content": "Cả đoạn đường tối om.",
            "field": "dien", "ward": 25708, "address": "Quốc lộ 22", "sender": {"kind": "individual", "name": "An"}}
    response = citizen.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "api-1"})
    assert response.status_code == 201
    created = response.get_json()
    assert created["code"].startswith("PA-") and created["url"].endswith(created["code"])
    again = citizen.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "api-1"})
    assert again.status_code == 200 and again.get_json()["code"] == created["code"]
    mine = citizen.get("/api/v1/me/reports").get_json()["items"]
    assert [r["code"] for r in mine] == [created["code"]]


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"title": ""}, "required", "title"),
    ({"field": "the-thao"}, "unknown_field", "field"),
    ({"ward": 25747}, "unknown_ward", "ward"),
    ({"address": ""}, "required", "address"),
    ({"type": "khac"}, "invalid_parameter", "type"),
    ({"sender": {"kind": "organization", "name": "An"}}, "required", "sender.organization"),
])
def test_api_send_errors(citizen, clock, change, code, field):
    body = {"title": "Tiêu đề đủ dài", "content": "Nội dung đủ dài cho phản ánh.", "field": "dien",
            "ward": 25708, "address": "Quốc lộ 22", "sender": {"kind": "individual", "name": "An"}}
    body.update(change)
    response = citizen.post("/api/v1/reports", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and error["field"] == field and error["message"]


def test_api_multipart_with_a_file_too_large_is_413(app, citizen, clock, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_MB", 1)
    data = {"title": "Ảnh quá lớn", "content": "Nội dung đủ dài cho phản ánh.", "field": "dien", "ward": "25708",
            "address": "Quốc lộ 22", "sender_name": "An", "files": [(io.BytesIO(b"\xff\xd8\xff" + b"0" * (1024 * 1024 + 5)), "a.jpg")]}
    response = citizen.post("/api/v1/reports", data=data, content_type="multipart/form-data",
                            headers={"X-Requested-With": "test"})
    assert response.status_code == 413 and "lớn hơn 1 MB" in response.get_json()["error"]["message"]
    no_header = citizen.post("/api/v1/reports", data={"title": "x"}, content_type="multipart/form-data")
    assert no_header.status_code == 400


def test_api_send_needs_a_login(client):
    response = client.post("/api/v1/reports", json={"title": "x"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "login_required"


def test_similar_reports_are_suggested(app, client, session, search, make_report):
    for i in range(7):
        make_report(title=f"Đường ngập nước số {i}")
    search.index()
    items = client.post("/api/v1/reports/similar", json={"text": "ngap nuoc duong"}).get_json()["items"]
    assert 1 <= len(items) <= 5 and "ngập" in items[0]["title"].lower()


