"""One send validation: the same send cases through the HTML form, the JSON API, the multipart API
and Open311's POST get the same accept/refuse decision and the same message (and, on the API, the
field as the request named it); a refused send saves nothing.

Open311 has no report type, sender kind or files (a partner sends a pakn for an individual), so the
cases about those run on the surfaces that have them.
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.opendata import apikeys
from webapp.reports.models import Report, Upload

PHONE = "0912345678"
GOOD = {"title": "Đường Hùng Vương ngập nước sau mưa", "content": "Mỗi khi mưa lớn đoạn đường ngập sâu 40 cm.",
        "field": "cap-thoat-nuoc", "ward": "25708", "address": "Số 10 đường Hùng Vương",
        "sender_kind": "individual", "organization_name": "", "sender_name": "Nguyễn Văn An"}
SURFACES = ("form", "json", "multipart", "open311")
OPEN311 = "/open311/v2/requests.json"
# Where the form shows a field's error (the ward's select is #region).
ERROR_ID = {"ward": "region-error"}
# JSON bodies put the sender in "sender"; its fields are named so in errors.
JSON_SENDER = {"sender_kind": "kind", "organization_name": "organization", "sender_name": "name"}
OPEN311_NAME = {"title": "attribute[title]", "content": "description", "field": "service_code",
                "ward": "attribute[ward_code]", "address": "address_string"}


def pdf(i: int) -> tuple[str, bytes]:
    return f"a{i}.pdf", b"%PDF-1.4\n%" + bytes([48 + i]) + b"\n"


@dataclass
class Case:
    id: str
    changes: dict = field(default_factory=dict)
    error: tuple[str, str] | None = None     # (form field, the form's message); None: accepted
    status: int = 400
    type: str = "pakn"
    files: list[tuple[str, bytes]] = field(default_factory=list)
    surfaces: tuple[str, ...] = SURFACES
    config: dict = field(default_factory=dict)


CASES = [
    Case("valid pakn"),
    Case("valid idea", {"address": "", "title": "Đề xuất trồng thêm cây xanh ven sông"}, type="idea",
         surfaces=("form", "json", "multipart")),
    Case("valid with files", files=[pdf(1), pdf(2)], surfaces=("form", "multipart")),
    Case("short title", {"title": "Ổ gà"}, ("title", "Tiêu đề dài 5–300 ký tự.")),
    Case("blank title", {"title": "     "}, ("title", "Vui lòng nhập tiêu đề.")),
    Case("huge content", {"content": "Ngập nước. " * 20_000}, ("content", "Nội dung dài 10–10.000 ký tự.")),
    Case("huge address", {"address": "Số 10 " * 20_000}, ("address", "Địa chỉ dài tối đa 500 ký tự.")),
    Case("NUL title", {"title": "\x00" * 12}, ("title", "Tiêu đề chứa ký tự không được phép (ký tự điều khiển).")),
    Case("control characters in the content", {"content": "Nội dung có mã \x1b[31m màu đỏ \x07 chuông."},
         ("content", "Nội dung chứa ký tự không được phép (ký tự điều khiển).")),
    Case("unknown field", {"field": "the-thao"}, ("field", "Lĩnh vực không tồn tại.")),
    Case("ward outside the deployment", {"ward": "26743"},  # Phường Bến Thành, Thành phố Hồ Chí Minh
         ("ward", "Xã, phường không thuộc địa bàn tiếp nhận.")),
    Case("pakn without address", {"address": ""}, ("address", "Vui lòng nhập địa chỉ nơi xảy ra sự việc."),
         surfaces=("form", "json", "multipart")),  # Open311 takes coordinates instead (its own rule)
    Case("organisation without name", {"sender_kind": "organization", "organization_name": ""},
         ("organization_name", "Vui lòng nhập tên tổ chức."), surfaces=("form", "json", "multipart")),
    Case("bad sender kind", {"sender_kind": "nhom"}, ("sender_kind", "Người gửi phải là cá nhân hoặc tổ chức."),
         surfaces=("form", "json", "multipart")),
    Case("bad type", {"type": "khac"}, ("type", "Loại phải là pakn hoặc idea."), surfaces=("json", "multipart")),
    Case("too many files", files=[pdf(1), pdf(2), pdf(3)], config={"UPLOAD_MAX_FILES": 2},
         error=("files", "Tối đa 2 tệp đính kèm; tệp “a3.pdf” chưa được nhận."), surfaces=("form", "multipart")),
    Case("too large file", files=[("to.jpg", b"\xff\xd8\xff" + b"0" * (1024 * 1024 + 10))],
         config={"UPLOAD_MAX_MB": 1}, error=("files", "Tệp “to.jpg” lớn hơn 1 MB."), status=413,
         surfaces=("form", "multipart")),
    Case("wrong file type", files=[("chay.exe", b"MZ\x90\x00\x03\x00\x00\x00")],
         error=("files", "Không nhận tệp “chay.exe”: chỉ nhận ảnh (JPEG, PNG, WebP) và tài liệu PDF, Word, Excel."),
         surfaces=("form", "multipart")),
]


def _values(case: Case) -> dict:
    return {**GOOD, "type": case.type, **case.changes}


def _form_error(page: str, name: str) -> str | None:
    found = re.search(rf'id="{ERROR_ID.get(name, name + "-error")}"[^>]*>(.*?)</(?:p|div)>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip() if found else None


def send_form(client, case: Case):
    values = _values(case)
    path = "/gui-hien-ke" if values.pop("type") == "idea" else "/gui-phan-anh"
    data = {**values, "idempotency_key": "k-form"}
    if case.files:
        data["files"] = [(io.BytesIO(content), name) for name, content in case.files]
    return client.post(path, data=data, content_type="multipart/form-data")


def send_json(client, case: Case):
    values = _values(case)
    body = {k: v for k, v in values.items() if k not in JSON_SENDER}
    body["ward"] = int(body["ward"])
    body["sender"] = {JSON_SENDER[k]: values[k] for k in JSON_SENDER}
    return client.post("/api/v1/reports", json=body)


def send_multipart(client, case: Case):
    data = dict(_values(case))
    if case.files:
        data["files"] = [(io.BytesIO(content), name) for name, content in case.files]
    return client.post("/api/v1/reports", data=data, content_type="multipart/form-data",
                       headers={"X-Requested-With": "test"})


def send_open311(client, case: Case, key: str):
    values = _values(case)
    data = {OPEN311_NAME[k]: values[k] for k in OPEN311_NAME}
    data.update({"first_name": "Văn An", "last_name": "Nguyễn", "phone": PHONE, "api_key": key})
    return client.post(OPEN311, data=data)


@pytest.fixture
def write_key(session):
    raw = apikeys.create("Báo Tây Ninh", "1000/hour", True)[1]
    session.commit()  # a refused request rolls back what is only flushed (the test's transaction stays)
    return raw


@pytest.mark.parametrize(("case", "surface"), [
    pytest.param(case, surface, id=f"{case.id} via {surface}") for case in CASES for surface in case.surfaces])
def test_every_surface_decides_a_send_alike(app, client, session, otp_login, write_key, monkeypatch, case, surface):
    for name, value in case.config.items():
        monkeypatch.setitem(app.config, name, value)
    otp_login(PHONE)
    response = {"form": send_form, "json": send_json, "multipart": send_multipart}[surface](client, case) \
        if surface != "open311" else send_open311(client, case, write_key)
    body = response.get_data(as_text=True)
    reports = session.scalars(select(Report)).all()

    if case.error is None:
        assert response.status_code in (201, 302), body[:1500]
        (report,) = reports
        values = _values(case)
        assert report.title == values["title"] and report.type == values["type"]
        assert report.sender_phone == PHONE and report.ward_code == 25708
        assert len(report.attachments) == len(case.files)
        return

    name, message = case.error
    assert response.status_code == case.status, body[:1500]
    if surface == "form":
        assert _form_error(body, name) == message
        assert "Số 10 đường Hùng Vương" in body or "address" in case.changes  # what was typed comes back
    elif surface == "open311":
        (error,) = response.get_json()
        assert error == {"code": case.status, "description": f"{OPEN311_NAME.get(name, name)}: {message}"}
    else:
        api_name = f"sender.{JSON_SENDER[name]}" if surface == "json" and name in JSON_SENDER else name
        error = response.get_json()["error"]
        assert (error["message"], error["field"]) == (message, api_name)
        assert error["code"] not in ("", None)
        assert session.scalar(select(func.count()).select_from(Upload)) == 0  # no file staged for nothing
    assert reports == []  # nothing saved


def test_the_same_refusal_has_the_same_code_on_json_and_multipart(client, otp_login, session):
    otp_login(PHONE)
    for case in CASES:
        if case.error is None or case.files or "json" not in case.surfaces:
            continue
        codes = {send_json(client, case).get_json()["error"]["code"],
                 send_multipart(client, case).get_json()["error"]["code"]}
        assert len(codes) == 1, (case.id, codes)


def test_a_refused_api_send_leaves_no_file_on_disk(app, client, otp_login, session):
    otp_login(PHONE)
    folder = Path(app.config["UPLOAD_PATH"])
    before = set(folder.iterdir()) if folder.exists() else set()
    case = Case("good file, bad title", {"title": "Ổ gà"}, files=[pdf(1)])
    assert send_multipart(client, case).status_code == 400
    after = set(folder.iterdir()) if folder.exists() else set()
    assert after == before


# -- the limits the OpenAPI document states are the send rules' ---------------------------------------------
def test_openapi_send_schema_states_the_send_rules_limits():
    from webapp.api.openapi import DOCUMENT_PATH
    from webapp.reports.validation import IDEMPOTENCY_KEY_MAX, SENDER_KINDS, TEXT_RULES, TYPES

    doc = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    schemas = doc["components"]["schemas"]
    draft, form, sender = schemas["ReportDraft"], schemas["ReportDraftForm"], schemas["Sender"]
    json_names = {"title": (draft, "title"), "content": (draft, "content"), "address": (draft, "address"),
                  **{flat: (sender, nested) for flat, nested in {**JSON_SENDER, "sender_phone": "phone",
                                                                  "sender_email": "email",
                                                                  "sender_address": "address"}.items()}}
    for name, rule in TEXT_RULES.items():
        for schema, prop in (json_names[name], (form, name)):
            stated = schema["properties"][prop]
            assert stated.get("maxLength") == rule.max, (name, prop, stated)
            assert stated.get("minLength", 0) == rule.min, (name, prop, stated)
    assert schemas["ReportType"]["enum"] == list(TYPES)
    assert sender["properties"]["kind"]["enum"] == list(SENDER_KINDS)
    assert form["properties"]["sender_kind"]["enum"] == list(SENDER_KINDS)
    assert draft["properties"]["idempotency_key"]["maxLength"] == IDEMPOTENCY_KEY_MAX


def test_the_form_stores_the_incident_time_typed_in_local_time_as_utc(client, otp_login, session, clock):
    from datetime import UTC, datetime

    otp_login(PHONE)
    response = send_form(client, Case("with a time", {"incident_at": "2026-05-04T08:30"}))
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    report = session.scalar(select(Report))
    assert report.incident_at.astimezone(UTC) == datetime(2026, 5, 4, 1, 30, tzinfo=UTC)  # 08:30 in Việt Nam


def test_an_idempotency_key_with_control_characters_is_refused_not_a_server_error(client, otp_login, session,
                                                                                    write_key):
    otp_login(PHONE)
    case = Case("valid pakn")
    body = {"type": "pakn", **{k: v for k, v in _values(case).items() if k not in JSON_SENDER}, "ward": 25708,
            "sender": {"name": "An"}, "idempotency_key": "k\x00y"}
    response = client.post("/api/v1/reports", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "idempotency_key"
    data = {OPEN311_NAME[k]: _values(case)[k] for k in OPEN311_NAME}
    refused = client.post(OPEN311, data={**data, "first_name": "An", "phone": PHONE, "api_key": write_key},
                          headers={"Idempotency-Key": "k\x01y"})
    assert refused.status_code == 400 and refused.get_json()[0]["description"].startswith("Idempotency-Key: ")
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    form = client.post("/gui-phan-anh", data={**GOOD, "idempotency_key": "k\x00y"})  # a tampered hidden field
    assert form.status_code == 302  # the report is kept; only the double-submit guard is lost
    assert session.scalar(select(func.count()).select_from(Report)) == 1
