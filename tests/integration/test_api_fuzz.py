"""A bounded schemathesis run over /api/v1, driven by the served OpenAPI document.

Every operation gets a few dozen generated requests (valid and invalid ones); every answer must be
no 5xx, a status the document lists, of the documented media type, and a body that matches the
documented schema. The app is a SQLite one with a few published reports in its embedded index, and
requests carry a logged-in citizen's session cookie, so the sending and "my reports" operations are
exercised past the login check (the reports they create live in this module's throw-away database).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from tests.conftest import build_app, migrate, sms_codes
from webapp.api.openapi import DOCUMENT_PATH

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PHONE = "0912345678"
# Any string is a well-formed report code (an unknown one is a 404), so no invalid request exists.
NOTHING_TO_BREAK = {"GET /reports/{code}"}
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))  # per operation and mode: the whole file runs in well under a minute


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    """A migrated SQLite app with published reports indexed in an embedded engine of its own."""
    from indexer.sqlite_fts import SqliteEngine
    from webapp.extensions import db
    from webapp.reference.models import Field, Ward
    from webapp.reports.codes import new_code
    from webapp.reports.models import Report
    from webapp.search.indexing import drain_outbox

    folder = tmp_path_factory.mktemp("fuzz")
    app = build_app(f"sqlite:///{folder / 'pakn.sqlite3'}", folder)
    migrate(app)
    engine, staff = SqliteEngine(folder / "search.sqlite3"), SqliteEngine(folder / "staff.sqlite3")
    engine.ensure_index()
    staff.ensure_index()
    app.extensions["pakn_search"], app.extensions["pakn_search_staff"] = engine, staff
    with app.app_context():
        fields = db.session.scalars(select(Field).order_by(Field.position)).all()
        ward = db.session.get(Ward, 25708)
        start = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
        for i, (title, status, confidential) in enumerate([
                ("Đường ngập nước sau mưa", "accepted", False), ("Mất điện kéo dài ở khu phố 3", "answered", False),
                ("Rác thải tồn đọng trước chợ", "processing", True), ("Đề xuất trồng cây xanh", "closed", False)]):
            report_type = "idea" if title.startswith("Đề xuất") else "pakn"
            db.session.add(Report(
                code=new_code(report_type), type=report_type, title=title, content=f"{title}. Nội dung chi tiết.",
                field=fields[i % len(fields)], ward=ward, province_code=ward.province_code, address="Số 1 Hùng Vương",
                sender_name="Nguyễn Văn An", sender_phone="0987654321", confidential=confidential, published=True,
                status=status, submitted_at=start + timedelta(days=40 * i)))
        db.session.commit()
        drain_outbox(engine=engine, staff_engine=staff)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def session_cookie(fuzz_app) -> str:
    """The session cookie of a citizen logged in by OTP (sent with every generated request)."""
    client = fuzz_app.test_client()
    assert client.post("/dang-nhap", data={"phone": PHONE}).status_code == 302
    assert client.post("/dang-nhap/ma", data={"code": sms_codes(fuzz_app, PHONE)[-1]}).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None and client.get("/api/v1/me/reports").status_code == 200
    return cookie.value


def _operations() -> list:
    """(method, path, mode) for every operation of the stored document; invalid data only where
    there is something to make invalid (parameters or a body)."""
    doc = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    out = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            out.append(pytest.param(method, path, GenerationMode.POSITIVE, id=label))
            if (operation.get("parameters") or operation.get("requestBody")) and label not in NOTHING_TO_BREAK:
                out.append(pytest.param(method, path, GenerationMode.NEGATIVE,
                                        id=f"{label} (invalid)"))
    return out


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)


@pytest.mark.parametrize(("method", "path", "mode"), _operations())
def test_api_conforms_to_its_description(api_schema, session_cookie, method, path, mode):
    operation = api_schema[path][method.upper()]
    headers = {"Cookie": f"session={session_cookie}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def check(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
