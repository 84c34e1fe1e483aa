"""The OpenAPI document at /api/openapi.json tells the truth about /api/v1.

The document is a valid OpenAPI 3.1 description; it names exactly the /api/v1 routes the app has;
and every answer of every operation, called with realistic data (published reports in the index,
a logged-in citizen) and with bad input, has a status, media type and body that the document
lists. Responses are checked with openapi-core against the document as served.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select
from werkzeug.wrappers import Request

from tests.conftest import sms_codes

REPORT_BODY = {"type": "pakn", "title": "Đèn đường hỏng trên Quốc lộ 22", "content": "Cả đoạn đường tối om.",
               "field": "dien", "ward": 25708, "address": "Quốc lộ 22",
               "sender": {"kind": "individual", "name": "Trần Thị Bình"}}


@pytest.fixture
def doc(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture
def spec(doc) -> OpenAPI:
    return OpenAPI.from_dict(doc)


@pytest.fixture
def conforms(spec):
    """Validate a test-client response against the document; returns it for further asserts."""

    def check(response, status: int | None = None):
        if status is not None:
            assert response.status_code == status, response.get_data(as_text=True)[:500]
        # The request as sent, less its body (already read by the app; a response does not need it).
        sent = Request({**response.request.environ, "wsgi.input": io.BytesIO(), "CONTENT_LENGTH": "0"})
        spec.validate_response(WerkzeugOpenAPIRequest(sent), WerkzeugOpenAPIResponse(response))
        return response

    return check


def component_validator(doc: dict, name: str) -> OAS31Validator:
    """A JSON Schema validator of one component schema (for bodies openapi-core reads as text)."""
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(doc, default_specification=DRAFT202012))
    return OAS31Validator({"$ref": f"urn:openapi#/components/schemas/{name}"}, registry=registry)


@pytest.fixture
def published(session, search, make_report):
    """Published reports in the index: one answered, one confidential, one idea, one hidden."""
    from webapp.auth.models import Unit
    from webapp.reports.models import Answer

    unit = Unit(name="UBND phường Trảng Bàng", slug="ubnd-trang-bang", is_intake=False)
    answered = make_report(title="Đường ngập nước trước chợ", status="answered")
    answered.answers.append(Answer(unit=unit, text="Đã nạo vét cống thoát nước.", state="approved",
                                   published_at=datetime(2025, 3, 20, 2, 0, tzinfo=UTC)))
    secret = make_report(title="Rác thải tồn đọng ngập lối đi", confidential=True, sender_phone="0987654321",
                         field_slug="moi-truong")
    idea = make_report(type="idea", title="Đề xuất trồng thêm cây xanh", status="processing",
                       content="Trồng cây xanh dọc hai bên đường.",
                       submitted_at=datetime(2025, 6, 1, 3, 0, tzinfo=UTC))
    make_report(title="Chưa công khai", published=False)
    search.index()
    return {"answered": answered, "secret": secret, "idea": idea}


# -- the document itself ---------------------------------------------------------------------------
def test_the_document_is_valid_openapi_and_names_the_server_asked(client, doc):
    validate_spec(doc)
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": "http://localhost/api/v1"}]
    behind_a_proxy = client.get("/api/openapi.json", base_url="https://pakn.example.vn").get_json()
    assert behind_a_proxy["servers"] == [{"url": "https://pakn.example.vn/api/v1"}]


def test_every_api_route_is_described_and_nothing_else(app, doc):
    in_app = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            in_app |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(method, path) for path, item in doc["paths"].items()
                 for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert described - in_app == set(), "described but not routed"
    assert in_app - described == set(), "routed but not described in schemas/openapi.json"


def test_every_operation_documents_its_errors_with_the_shared_error_schema(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response.get("$ref", "")
                    body = doc["components"]["responses"][ref.rsplit("/", 1)[-1]] if ref else response
                    schema = body["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"


def test_the_api_page_lists_every_operation_from_the_document(client, doc):
    page = client.get("/api/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/api/openapi.json"' in html and "http://localhost/api/v1" in html
    for path in doc["paths"]:
        assert f"<code>{path}</code>" in html


# -- search and reading ----------------------------------------------------------------------------
def test_search_answers_conform(client, conforms, published):
    found = conforms(client.get("/api/v1/reports", query_string={"q": "ngap", "per_page": 5}), 200).get_json()
    codes = {item["code"] for item in found["items"]}
    assert codes == {published["answered"].code, published["secret"].code}
    answered = next(i for i in found["items"] if i["code"] == published["answered"].code)
    secret = next(i for i in found["items"] if i["code"] == published["secret"].code)
    assert answered["answer"]["unit"] == "UBND phường Trảng Bàng" and answered["phone_masked"] == "091*****78"
    assert secret["sender"] is None and secret["phone_masked"] is None
    assert found["facets"]["field"]

    everything = client.get("/api/v1/reports?type=pakn&type=idea&status=answered,processing&region=80"
                            "&from=2025-01-01&to=2025-12-31&sort=oldest&page=1")
    assert len(conforms(everything, 200).get_json()["items"]) == 2
    by_phone = conforms(client.post("/api/v1/reports/search", json={"phone": "+84 912 345 678", "q": ""}), 200)
    assert published["secret"].code not in {i["code"] for i in by_phone.get_json()["items"]}
    last_reachable = conforms(client.get("/api/v1/reports?page=100&per_page=100"), 200).get_json()
    assert last_reachable["items"] == [] and last_reachable["total"] == 3
    punctuation = conforms(client.get("/api/v1/reports", query_string={"q": "???"}), 200).get_json()
    assert punctuation["total"] == 3  # no words at all: every public report, not an outage


@pytest.mark.parametrize(("method", "path", "body", "code", "field"), [
    ("get", "/api/v1/reports?field=the-thao", None, "unknown_field", "field"),
    ("get", "/api/v1/reports?region=1", None, "unknown_region", "region"),
    ("get", "/api/v1/reports?from=2025-02-30", None, "bad_date", "from"),
    ("get", "/api/v1/reports?to=9999-12-31", None, "bad_date", "to"),          # was a 500 (date overflow)
    ("get", "/api/v1/reports?page=100000000000000000000", None, "page_too_deep", "page"),  # was a 500
    ("get", "/api/v1/reports?page=101&per_page=100", None, "page_too_deep", "page"),  # past Elasticsearch's window
    ("get", "/api/v1/reports?page=334&per_page=30", None, "page_too_deep", "page"),  # from + size past the window
    ("get", "/api/v1/reports?page=0", None, "invalid_parameter", "page"),
    ("get", "/api/v1/reports?per_page=101", None, "per_page_too_large", "per_page"),
    ("get", "/api/v1/reports?sort=best", None, "invalid_parameter", "sort"),
    ("get", "/api/v1/reports?phone=0912345678", None, "phone_in_url", "phone"),
    ("post", "/api/v1/reports/search", ["not", "an", "object"], "invalid_json", None),
    ("post", "/api/v1/reports/search", {"phone": 912345678}, "invalid_phone", "phone"),  # was a 500
    ("post", "/api/v1/reports/search", {"q": ["a"]}, "invalid_parameter", "q"),
    ("get", "/api/v1/reports.csv?status=lost", None, "invalid_parameter", "status"),
    ("get", "/api/v1/reports.jsonl?from=yesterday", None, "bad_date", "from"),
    ("get", "/api/v1/stats?type=complaint", None, "invalid_parameter", "type"),
])
def test_bad_search_input_is_a_documented_400(client, conforms, search, method, path, body, code, field):
    response = conforms(getattr(client, method)(path, json=body), 400)
    assert response.get_json()["error"]["code"] == code and response.get_json()["error"]["field"] == field


@pytest.mark.parametrize("path", ["/api/v1/reports?q=ngap", "/api/v1/reports.csv", "/api/v1/stats"])
def test_an_unreachable_engine_is_a_documented_503(app, client, conforms, search, tmp_path, path):
    from indexer.sqlite_fts import SqliteEngine

    blocker = tmp_path / "file"
    blocker.write_text("")
    app.extensions["pakn_search"] = SqliteEngine(blocker / "search.sqlite3")
    assert conforms(client.get(path), 503).get_json()["error"]["code"] == "search_unavailable"


def test_one_report_and_reference_lists_conform(client, conforms, published):
    code = published["answered"].code
    report = conforms(client.get(f"/api/v1/reports/{code.lower()}"), 200).get_json()
    assert report["code"] == code and report["content"] and report["timeline"] is not None
    missing = conforms(client.get("/api/v1/reports/PA-2222-2222"), 404).get_json()
    assert missing["error"]["code"] == "not_found"
    fields = conforms(client.get("/api/v1/meta/fields"), 200).get_json()
    assert {"slug": "giao-thong", "name": "Giao thông"} in fields
    regions = conforms(client.get("/api/v1/meta/regions"), 200).get_json()
    assert regions[0]["kind"] == "province" and regions[0]["wards"]
    similar = conforms(client.post("/api/v1/reports/similar", json={"text": "ngập nước"}), 200).get_json()
    assert similar["items"][0]["code"] == code
    # Any JSON at all is answered with suggestions or none (a list body was a 500).
    assert conforms(client.post("/api/v1/reports/similar", json=[1, 2]), 200).get_json() == {"items": []}


def test_active_warnings_conform(client, conforms, session, make_staff):
    from webapp.reference.models import Ward
    from webapp.warnings.models import PublicWarning

    officer = make_staff()
    session.add(PublicWarning(unit=officer.memberships[0].unit, title="Triều cường dâng cao",
                              content="Tránh khu vực ven sông.", level="danger", state="approved",
                              starts_at=datetime(2000, 1, 1, tzinfo=UTC), ends_at=datetime(2100, 1, 1, tzinfo=UTC),
                              created_by=officer, regions=[session.get(Ward, 25708)]))
    session.flush()
    warnings = conforms(client.get("/api/v1/warnings/active"), 200).get_json()
    assert [w["title"] for w in warnings] == ["Triều cường dâng cao"]
    assert warnings[0]["regions"] == [{"code": 25708, "name": "Phường Trảng Bàng"}]


def test_statistics_conform(client, conforms, published):
    stats = conforms(client.get("/api/v1/stats?type=pakn"), 200).get_json()
    assert stats["total"] == 2 and stats["filters"]["type"] == ["pakn"]
    assert stats["timeliness"]["overall"]["answered"] == 1


def test_exports_have_the_documented_media_types_and_records(client, doc, published):
    operation = doc["paths"]["/reports.csv"]["get"]["responses"]["200"]
    csv_file = client.get("/api/v1/reports.csv?q=ngap")
    assert csv_file.status_code == 200 and csv_file.mimetype in operation["content"]
    text = csv_file.get_data(as_text=True)
    assert text.startswith("\ufeffcode,") and published["answered"].code in text
    assert csv_file.headers["X-Total-Count"] == "2"

    operation = doc["paths"]["/reports.jsonl"]["get"]["responses"]["200"]
    lines = client.get("/api/v1/reports.jsonl")
    assert lines.status_code == 200 and lines.mimetype in operation["content"]
    records = [json.loads(line) for line in lines.get_data(as_text=True).splitlines()]
    assert len(records) == 3
    validator = component_validator(doc, "ExportRecord")
    for record in records:
        validator.validate(record)
    secret = next(r for r in records if r["code"] == published["secret"].code)
    assert secret["sender_name"] is None and secret["phone_masked"] is None


# -- logged-in citizens and login ------------------------------------------------------------------
def test_sending_and_my_reports_conform(client, conforms, otp_login, session):
    assert conforms(client.get("/api/v1/me/reports"), 401).get_json()["error"]["code"] == "login_required"
    assert conforms(client.post("/api/v1/reports", json=REPORT_BODY), 401)
    otp_login()
    created = conforms(client.post("/api/v1/reports", json=REPORT_BODY, headers={"Idempotency-Key": "k-1"}), 201)
    again = conforms(client.post("/api/v1/reports", json=REPORT_BODY, headers={"Idempotency-Key": "k-1"}), 200)
    assert again.get_json()["code"] == created.get_json()["code"]
    mine = conforms(client.get("/api/v1/me/reports"), 200).get_json()["items"]
    assert [r["code"] for r in mine] == [created.get_json()["code"]] and mine[0]["status"]["code"] == "pending"


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"field": "the-thao"}, "unknown_field", "field"),
    ({"ward": 10**20}, "unknown_ward", "ward"),                               # was a 500 (SQLite overflow)
    ({"sender": {"name": "An", "email": 5}}, "invalid_parameter", "sender.email"),  # was a 500
    ({"organization_name": ["x"], "sender_kind": "organization"}, "invalid_parameter", "organization_name"),
    ({"idempotency_key": "k" * 65}, "invalid_parameter", "idempotency_key"),  # longer than the column
    ({"title": ""}, "required", "title"),
])
def test_bad_report_input_is_a_documented_400(client, conforms, otp_login, session, change, code, field):
    from webapp.reports.models import Report

    otp_login()
    response = conforms(client.post("/api/v1/reports", json={**REPORT_BODY, **change}), 400)
    assert response.get_json()["error"]["code"] == code and response.get_json()["error"]["field"] == field
    assert session.scalar(select(Report.id)) is None  # nothing half-saved


def test_otp_login_answers_conform(app, client, conforms, clock):
    assert conforms(client.post("/api/v1/auth/otp/request", json={"phone": "12"}), 400)
    conforms(client.post("/api/v1/auth/otp/request", json={"phone": "0912345678"}), 202)
    wrong = "000000" if sms_codes(app, "0912345678")[-1] != "000000" else "111111"
    assert conforms(client.post("/api/v1/auth/otp/verify", json={"phone": "0912345678", "code": wrong}), 401)
    code = sms_codes(app, "0912345678")[-1]
    user = conforms(client.post("/api/v1/auth/otp/verify", json={"phone": "0912345678", "code": code}), 200)
    assert user.get_json()["user"]["phone"] == "0912345678"
    assert conforms(client.get("/api/v1/me/reports"), 200).get_json() == {"items": []}


def test_api_keys_and_request_limits_answer_as_documented(fresh_app, conforms, doc):
    from webapp.extensions import db
    from webapp.opendata import apikeys

    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    application = fresh_app(RATE_LIMITS=True, API_RATE_LIMIT="2/minute")
    with application.app_context():
        raw = apikeys.create("Báo Tuổi Trẻ", "100/minute", False)[1]
        db.session.commit()
    client = application.test_client()
    bad = conforms(client.get("/api/v1/meta/fields", headers={"X-API-Key": "pakn_00000000_sai"}), 401)
    assert bad.get_json()["error"]["code"] == "invalid_api_key"
    conforms(client.get("/api/v1/meta/fields"), 200)
    limited = conforms(client.get("/api/v1/meta/fields"), 429)  # the bad key counted against the IP too
    assert limited.get_json()["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0
    conforms(client.get("/api/v1/meta/fields", headers={"X-API-Key": raw}), 200)  # the key's own limit
