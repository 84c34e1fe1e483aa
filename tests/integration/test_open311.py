"""Open311 GeoReport v2 at /open311/v2 and partner API keys: resources in JSON and XML, filters,
paging, status mapping, privacy, POST with a key, request limits, the CLI, and an outside client."""

from __future__ import annotations

import hashlib
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.auth.models import Unit, User, UserStatus
from webapp.opendata import apikeys
from webapp.opendata.models import ApiKey
from webapp.reports.models import Answer, Attachment, Report, Status

BASE = "/open311/v2"
NOW = datetime.now(UTC)


def recent(days: float = 1) -> datetime:
    return NOW - timedelta(days=days)


def xml_of(response) -> ET.Element:
    assert response.content_type == "text/xml; charset=utf-8"
    return ET.fromstring(response.data)  # noqa: S314 - our own answer; raises when not well-formed


def codes_of(response) -> list[str]:
    if response.content_type.startswith("text/xml"):
        return [e.findtext("service_request_id") for e in xml_of(response).findall("request")]
    return [item["service_request_id"] for item in response.get_json()]


def assert_open311_error(response, status: int, fragment: str = "") -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    if response.content_type.startswith("text/xml"):
        error = xml_of(response).find("error")
        code, description = int(error.findtext("code")), error.findtext("description")
    else:
        (body,) = response.get_json()
        code, description = body["code"], body["description"]
    assert code == status and fragment in description
    return description


@pytest.fixture
def keys(session):
    """Full texts of a write key, a read-only key and a revoked key."""
    write = apikeys.create("Báo Tây Ninh", "1000/hour", True)[1]
    read = apikeys.create("Nhóm dữ liệu mở", "1000/hour", False)[1]
    revoked_key, revoked = apikeys.create("Đối tác cũ", "1000/hour", True)
    apikeys.revoke(revoked_key.prefix)
    session.commit()  # a refused request rolls back what is only flushed (the test's transaction stays)
    return {"write": write, "read": read, "revoked": revoked}


def answered(session, report: Report, text: str, unit: str = "Sở Xây dựng Tây Ninh") -> Answer:
    found = session.scalar(select(Unit).where(Unit.name == unit))
    answer = Answer(report=report, unit=found or Unit(name=unit, slug=f"u-{len(unit)}-{report.id}"), text=text,
                    state="approved", published_at=recent(0.5), answered_at=recent(0.5))
    session.add(answer)
    session.flush()
    return answer


# -- discovery and services -------------------------------------------------------------------------------
def test_discovery_in_json_and_xml(client):
    body = client.get(f"{BASE}/discovery.json").get_json()
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2" and endpoint["type"] == "production"
    assert endpoint["formats"] == ["application/json", "text/xml"] and body["changeset"]
    root = xml_of(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["application/json", "text/xml"]


def test_services_are_the_fields_in_json_and_xml(client):
    services = client.get(f"{BASE}/services.json").get_json()
    first = services[0]
    assert first["service_code"] == "giao-thong" and first["service_name"] == "Giao thông"
    assert first["type"] == "realtime" and first["metadata"] is True
    assert "giao thong" in first["keywords"] and first["group"] and "5 ngày làm việc" in first["description"]
    assert len(services) == 13
    root = xml_of(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == [s["service_code"] for s in services]
    assert root.find("service").findtext("service_name") == "Giao thông"
    assert root.find("service").findtext("metadata") == "true"


def test_service_definition_in_json_and_xml(client):
    body = client.get(f"{BASE}/services/moi-truong.json").get_json()
    assert body["service_code"] == "moi-truong"
    attributes = {a["code"]: a for a in body["attributes"]}
    confidential = attributes["confidential"]
    assert confidential["datatype"] == "singlevaluelist" and confidential["variable"] is True
    assert confidential["required"] is False
    assert {v["key"] for v in confidential["values"]} == {"true", "false"}
    ward = attributes["ward_code"]
    assert ward["required"] is True and {"key": "25708", "name": "Phường Trảng Bàng"} in ward["values"]
    root = xml_of(client.get(f"{BASE}/services/moi-truong.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "moi-truong"
    codes = [a.findtext("code") for a in root.findall("attributes/attribute")]
    assert codes == ["ward_code", "confidential"]
    assert root.find("attributes/attribute/values/value/key").text.isdigit()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_code_is_an_open311_404(client, fmt):
    assert_open311_error(client.get(f"{BASE}/services/khong-co.{fmt}"), 404, "khong-co")


@pytest.mark.parametrize("path", ["/services.html", "/services", "/requests.csv", "/discovery.yaml",
                                  "/services/giao-thong.txt", "/requests/PA-AAAA-AAAA.pdf"])
def test_any_other_format_is_404_in_the_open311_format(client, path):
    assert_open311_error(client.get(BASE + path), 404)


def test_wrong_method_answers_in_the_open311_format(client):
    assert_open311_error(client.post(f"{BASE}/services.xml"), 405)


# -- service requests ----------------------------------------------------------------------------------------
def test_a_request_shows_the_public_facts_the_answer_and_our_status(session, client, search, make_report):
    deadline = NOW + timedelta(days=3)
    report = make_report(title="Đèn đường hỏng", content="Cả dãy đèn đường Hùng Vương tắt từ tuần trước.",
                         field_slug="dien", status="processing", deadline_at=deadline, lat=11.03, lon=106.36,
                         submitted_at=recent(5), published_at=recent(4))
    done = make_report(title="Ổ gà", content="Ổ gà lớn trước cổng trường, nhiều xe ngã.", status="answered",
                       submitted_at=recent(6), published_at=recent(5))
    answered(session, done, "Sở Xây dựng đã vá ổ gà ngày 20/11.")
    search.index()

    (item,) = client.get(f"{BASE}/requests/{report.code}.json").get_json()
    assert item["service_request_id"] == report.code and item["status"] == "open"
    assert item["service_code"] == "dien" and item["service_name"] == "Điện"
    assert item["description"] == "Cả dãy đèn đường Hùng Vương tắt từ tuần trước."
    assert item["status_notes"] is None and item["agency_responsible"] is None
    assert item["lat"] == 11.03 and item["long"] == 106.36
    assert item["address"] == "Số 1 đường Hùng Vương, Phường Trảng Bàng, Tây Ninh"
    assert item["requested_datetime"].endswith("+07:00")
    assert datetime.fromisoformat(item["requested_datetime"]) == report.submitted_at.replace(microsecond=0)
    assert datetime.fromisoformat(item["expected_datetime"]) == deadline.replace(microsecond=0)
    assert datetime.fromisoformat(item["updated_datetime"]) >= datetime.fromisoformat(item["requested_datetime"])
    ext = item["extended_attributes"]
    assert ext["pakn_status"] == "processing" and ext["pakn_status_label"] == "Đang xử lý"
    assert ext["ward_code"] == 25708 and ext["province_code"] == 80 and ext["title"] == "Đèn đường hỏng"
    assert ext["url"].endswith(f"/pakn/{report.code}")

    (closed,) = client.get(f"{BASE}/requests/{done.code}.json").get_json()
    assert closed["status"] == "closed" and closed["status_notes"] == "Sở Xây dựng đã vá ổ gà ngày 20/11."
    assert closed["agency_responsible"] == "Sở Xây dựng Tây Ninh" and closed["expected_datetime"] is None
    assert closed["extended_attributes"]["pakn_status"] == "answered"
    assert datetime.fromisoformat(closed["updated_datetime"]) == done.published_answer.published_at.replace(microsecond=0)

    root = xml_of(client.get(f"{BASE}/requests/{done.code}.xml"))
    assert root.tag == "service_requests"
    request = root.find("request")
    assert request.findtext("status_notes") == "Sở Xây dựng đã vá ổ gà ngày 20/11."
    assert request.findtext("extended_attributes/pakn_status_label") == "Đã trả lời"
    assert request.find("lat").text is None  # no location: an empty element


@pytest.mark.parametrize(("status", "open311"), [
    ("pending", "open"), ("accepted", "open"), ("processing", "open"),
    ("answered", "closed"), ("closed", "closed"), ("rejected", "closed"), ("duplicate", "closed")])
def test_status_mapping(session, client, search, make_report, status, open311):
    report = make_report(status=status, submitted_at=recent())
    search.index()
    (item,) = client.get(f"{BASE}/requests/{report.code}.json").get_json()
    assert item["status"] == open311 and item["extended_attributes"]["pakn_status"] == status
    assert codes_of(client.get(f"{BASE}/requests.json", query_string={"status": open311})) == [report.code]
    other = "closed" if open311 == "open" else "open"
    assert codes_of(client.get(f"{BASE}/requests.json", query_string={"status": other})) == []


def test_every_status_is_mapped():
    from webapp.open311.services import CLOSED, OPEN

    assert set(OPEN) | set(CLOSED) == set(Status) and not set(OPEN) & set(CLOSED)


def test_unpublished_reports_are_neither_listed_nor_found(session, client, search, make_report):
    hidden = make_report(published=False, submitted_at=recent())
    shown = make_report(submitted_at=recent())
    search.index()
    for fmt in ("json", "xml"):
        assert codes_of(client.get(f"{BASE}/requests.{fmt}")) == [shown.code]
        assert_open311_error(client.get(f"{BASE}/requests/{hidden.code}.{fmt}"), 404, hidden.code)
        assert_open311_error(client.get(f"{BASE}/requests/PA-2222-2222.{fmt}"), 404)
        assert_open311_error(client.get(f"{BASE}/requests/khong-phai-ma.{fmt}"), 404)
    listed = client.get(f"{BASE}/requests.json", query_string={"service_request_id": f"{hidden.code},{shown.code}"})
    assert codes_of(listed) == [shown.code]
    # Unpublished after indexing (the index lags): the row decides, so it is not shown.
    shown.published = False
    session.flush()
    assert codes_of(client.get(f"{BASE}/requests.json")) == []


def test_filter_by_service_code(session, client, search, make_report):
    road = make_report(field_slug="giao-thong", submitted_at=recent(1))
    power = make_report(field_slug="dien", submitted_at=recent(2))
    make_report(field_slug="y-te", submitted_at=recent(3))
    search.index()
    assert codes_of(client.get(f"{BASE}/requests.json", query_string={"service_code": "dien"})) == [power.code]
    both = client.get(f"{BASE}/requests.json", query_string={"service_code": "giao-thong,dien"})
    assert codes_of(both) == [road.code, power.code]  # newest first
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string={"service_code": "khong-co"}), 400,
                         "service_code")


def test_filter_by_service_request_id_overrides_the_other_filters(session, client, search, make_report):
    old = make_report(field_slug="dien", submitted_at=recent(400), status="closed")
    new = make_report(submitted_at=recent(1))
    search.index()
    found = client.get(f"{BASE}/requests.json", query_string={
        "service_request_id": f"{new.code}, {old.code.lower()},PA-2222-2222,rac", "service_code": "y-te",
        "status": "open"})
    assert codes_of(found) == [new.code, old.code]
    assert found.headers["X-Total-Count"] == "2"


def test_full_text_q_is_vietnamese_aware(session, client, search, make_report):
    flood = make_report(title="Ngập nước", content="Đường ngập nước sâu sau cơn mưa.", submitted_at=recent(1))
    make_report(title="Rác thải", content="Bãi rác tự phát bốc mùi.", submitted_at=recent(2))
    search.index()
    for q in ("ngập nước", "ngap nuoc", "NGAP NUOC"):
        assert codes_of(client.get(f"{BASE}/requests.json", query_string={"q": q})) == [flood.code], q
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string={"q": "x" * 201}), 400, "q")


def test_filter_by_dates(session, client, search, make_report):
    march = make_report(submitted_at=datetime(2026, 3, 10, 3, 0, tzinfo=UTC))     # 10:00 in Việt Nam
    april = make_report(submitted_at=datetime(2026, 4, 20, 17, 30, tzinfo=UTC))   # 21 April, 00:30 there
    search.index()

    def listed(**params):
        return codes_of(client.get(f"{BASE}/requests.json", query_string=params))

    assert listed(start_date="2026-03-01T00:00:00+07:00", end_date="2026-05-01T00:00:00Z") == [april.code, march.code]
    assert listed(start_date="2026-03-10T10:00:00+07:00", end_date="2026-03-10T10:00:00+07:00") == [march.code]
    assert listed(start_date="2026-03-10T10:00:01+07:00", end_date="2026-04-30T00:00:00Z") == [april.code]
    assert listed(start_date="2026-04-21", end_date="2026-04-21") == [april.code]        # a date: the whole day
    assert listed(start_date="2026-04-20", end_date="2026-04-20") == []                  # local days
    assert listed(start_date="2026-03-10T09:00:00", end_date="2026-03-10T11:00") == [march.code]  # naive: local
    assert listed(start_date="2026-03-10T10:00:00 07:00", end_date="2026-03-11") == [march.code]  # unencoded "+"
    assert listed(end_date="2026-04-30T00:00:00Z") == [april.code, march.code]            # 90 days before the end
    assert listed(end_date="2026-07-01T00:00:00Z") == [april.code]
    assert listed(start_date="2026-04-01T00:00:00Z") == [april.code]                      # from then on
    assert listed(start_date="20260421", end_date="20260421") == [april.code]            # compact ISO 8601
    for params in ({"start_date": "hôm qua"}, {"end_date": "2026-13-01"}, {"start_date": "2026-02-30"},
                   {"end_date": "9999-12-31"}, {"start_date": "0001-01-01T00:00:00+07:00"}, {"end_date": "2026-04-01T25:00"}):
        assert_open311_error(client.get(f"{BASE}/requests.json", query_string=params), 400, next(iter(params)))
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string={
        "start_date": "2026-04-02T00:00:00Z", "end_date": "2026-04-01T00:00:00Z"}), 400, "start_date")


def test_without_dates_the_last_90_days(session, client, search, make_report, clock):
    inside = make_report(submitted_at=clock.now - timedelta(days=89))
    make_report(submitted_at=clock.now - timedelta(days=91))
    search.index()
    assert codes_of(client.get(f"{BASE}/requests.json")) == [inside.code]


def test_paging(session, client, search, make_report):
    made = [make_report(title=f"Phản ánh số {i}", submitted_at=recent(i + 1)) for i in range(5)]
    search.index()
    pages = [client.get(f"{BASE}/requests.json", query_string={"page_size": 2, "page": p}) for p in (1, 2, 3, 4)]
    assert [codes_of(p) for p in pages] == [[made[0].code, made[1].code], [made[2].code, made[3].code],
                                            [made[4].code], []]
    assert {p.headers["X-Total-Count"] for p in pages} == {"5"}
    assert len(codes_of(client.get(f"{BASE}/requests.json"))) == 5  # default page size 50
    for params, name in (({"page_size": 101}, "page_size"), ({"page_size": 0}, "page_size"),
                         ({"page": 0}, "page"), ({"page": "hai"}, "page")):
        assert_open311_error(client.get(f"{BASE}/requests.xml", query_string=params), 400, name)
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string={"status": "done"}), 400, "status")


def test_search_engine_down_is_a_503_in_the_open311_format(session, client, app, tmp_path):
    from indexer.sqlite_fts import SqliteEngine

    blocker = tmp_path / "file"
    blocker.write_text("")
    previous = app.extensions.get("pakn_search")
    app.extensions["pakn_search"] = SqliteEngine(blocker / "search.sqlite3")  # unreachable
    try:
        assert_open311_error(client.get(f"{BASE}/requests.xml"), 503, "tìm kiếm")
    finally:
        app.extensions["pakn_search"] = previous


def test_media_url_is_a_public_image_only(session, client, search, make_report):
    shown = make_report(submitted_at=recent())
    secret = make_report(submitted_at=recent(), confidential=True)
    for i, report in enumerate((shown, secret)):
        report.attachments.append(Attachment(filename="a.pdf", stored_name=f"pdf{i}", content_type="application/pdf", size=1))
        report.attachments.append(Attachment(filename="b.jpg", stored_name=f"jpg{i}", content_type="image/jpeg", size=1))
    session.flush()
    search.index()
    image = shown.attachments[1]
    (item,) = client.get(f"{BASE}/requests/{shown.code}.json").get_json()
    assert item["media_url"] == f"http://localhost/tep/{image.id}"
    (item,) = client.get(f"{BASE}/requests/{secret.code}.json").get_json()
    assert item["media_url"] is None


def test_a_sender_never_appears_and_text_is_the_masked_public_one(session, client, search, make_report):
    secret = make_report(confidential=True, sender_name="Trần Thị Bí Mật", sender_phone="0987654321",
                         sender_email="bimat@example.vn", sender_address="Số 9 hẻm 3",
                         content="Gọi tôi 0911 222 333 nếu cần, xe 51F-123.45 đỗ chắn lối.", submitted_at=recent(1))
    public = make_report(sender_name="Lê Công Khai", sender_phone="0912345678", submitted_at=recent(2))
    answered(session, secret, "Đã xử lý.")
    search.index()
    bodies = []
    for fmt in ("json", "xml"):
        bodies.append(client.get(f"{BASE}/requests.{fmt}").get_data(as_text=True))
        for report in (secret, public):
            bodies.append(client.get(f"{BASE}/requests/{report.code}.{fmt}").get_data(as_text=True))
        for q in ("Bí Mật", "0987654321", "bimat", "Công Khai"):
            bodies.append(client.get(f"{BASE}/requests.{fmt}", query_string={"q": q}).get_data(as_text=True))
        bodies.append(client.get(f"{BASE}/requests.{fmt}", query_string={
            "service_request_id": f"{secret.code},{public.code}"}).get_data(as_text=True))
    everything = "\n".join(bodies)
    assert secret.code in everything and public.code in everything
    for value in ("Trần Thị Bí Mật", "Bí Mật", "0987654321", "987654321", "bimat@example.vn", "Số 9 hẻm 3",
                  "Lê Công Khai", "0912345678", "0911 222 333", "51F-123.45"):
        assert value not in everything, value
    (item,) = client.get(f"{BASE}/requests/{secret.code}.json").get_json()
    assert "091*****33" in item["description"]


def test_xml_is_well_formed_with_any_text(session, client, search, make_report):
    report = make_report(title="Ký tự lạ <b>&\"'", content="Dòng 1\x0b\x01 <script>& \"trích\" 'dẫn'\nDòng 2",
                         submitted_at=recent())
    search.index()
    for path in ("/requests.xml", f"/requests/{report.code}.xml"):
        request = xml_of(client.get(BASE + path)).find("request")
        assert request.findtext("description") == "Dòng 1 <script>& \"trích\" 'dẫn'\nDòng 2"
        assert request.findtext("extended_attributes/title") == "Ký tự lạ <b>&\"'"


# -- POST: a partner sends a report ------------------------------------------------------------------------------
GOOD = {"service_code": "giao-thong", "attribute[ward_code]": "25708", "address_string": "Số 5 đường Hùng Vương",
        "description": "Đường Hùng Vương ngập sâu sau cơn mưa chiều nay, xe máy chết máy hàng loạt, cần khơi thông cống.",
        "first_name": "Văn An", "last_name": "Nguyễn", "phone": "+84 912 345 678", "email": "an@example.vn",
        "lat": "11.03", "long": "106.36", "attribute[confidential]": "true"}


def post(client, fmt="json", key=None, **changes):
    data = {**GOOD, **changes}
    if key is not None:
        data["api_key"] = key
    return client.post(f"{BASE}/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_with_a_write_key_creates_a_report(session, client, keys, fmt):
    response = post(client, fmt, keys["write"])
    assert response.status_code == 201, response.get_data(as_text=True)
    if fmt == "json":
        (body,) = response.get_json()
        code, notice, account = body["service_request_id"], body["service_notice"], body["account_id"]
    else:
        request = xml_of(response).find("request")
        code, notice, account = (request.findtext("service_request_id"), request.findtext("service_notice"),
                                 request.find("account_id").text)
    assert account is None and code in notice
    report = session.scalar(select(Report).where(Report.code == code))
    assert report.field.slug == "giao-thong" and report.ward_code == 25708 and report.province_code == 80
    assert report.sender_name == "Nguyễn Văn An" and report.sender_phone == "0912345678"
    assert report.sender_email == "an@example.vn" and report.confidential is True
    assert report.address == "Số 5 đường Hùng Vương" and (report.lat, report.lon) == (11.03, 106.36)
    assert report.type == "pakn" and report.status == "pending" and report.published is False
    assert report.content == GOOD["description"]
    assert report.title == "Đường Hùng Vương ngập sâu sau cơn mưa chiều nay, xe máy chết máy hàng loạt…"
    owner = report.user
    prefix = keys["write"].split("_")[1]
    assert owner.username == f"apikey-{prefix}" and owner.full_name == "Báo Tây Ninh"
    assert owner.status == UserStatus.LOCKED and owner.phone is None and owner.password_hash is None
    # Not public until the agency accepts and publishes it.
    assert_open311_error(client.get(f"{BASE}/requests/{code}.{fmt}"), 404)


def test_post_with_the_key_in_the_header_a_title_and_no_coordinates(session, client, keys):
    response = client.post(f"{BASE}/requests.json", headers={"X-API-Key": keys["write"]}, data={
        **GOOD, "lat": "", "long": "", "attribute[title]": "Ngập đường Hùng Vương",
        "attribute[confidential]": "false", "attribute[ward_code]": "phường trảng bàng"})
    assert response.status_code == 201, response.get_data(as_text=True)
    report = session.scalar(select(Report).where(Report.code == response.get_json()[0]["service_request_id"]))
    assert report.title == "Ngập đường Hùng Vương" and report.confidential is False and report.lat is None
    assert report.ward_code == 25708


def test_post_with_coordinates_and_no_address(session, client, keys):
    response = post(client, key=keys["write"], address_string=None)
    assert response.status_code == 201, response.get_data(as_text=True)
    report = session.scalar(select(Report).where(Report.code == response.get_json()[0]["service_request_id"]))
    assert report.address == "Tọa độ 11.03, 106.36"


def test_post_reports_of_one_key_share_one_account_and_idempotency_keys(session, client, keys):
    first = client.post(f"{BASE}/requests.json", data={**GOOD, "api_key": keys["write"]},
                        headers={"Idempotency-Key": "bao-tn-0001"})
    again = client.post(f"{BASE}/requests.json", data={**GOOD, "api_key": keys["write"]},
                        headers={"Idempotency-Key": "bao-tn-0001"})
    other = post(client, key=keys["write"], idempotency_key="bao-tn-0002")
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.get_json()[0]["service_request_id"] == again.get_json()[0]["service_request_id"]
    assert session.scalar(select(func.count()).select_from(Report)) == 2
    assert session.scalar(select(func.count()).select_from(User).where(User.username.like("apikey-%"))) == 1


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_is_refused_without_a_write_key(session, client, keys, fmt):
    assert_open311_error(post(client, fmt), 403, "api_key")
    assert_open311_error(post(client, fmt, keys["read"]), 403, "chỉ có quyền đọc")
    assert_open311_error(post(client, fmt, keys["revoked"]), 403, "thu hồi")
    assert_open311_error(post(client, fmt, keys["write"] + "x"), 403, "không hợp lệ")
    assert_open311_error(post(client, fmt, "pakn_zzzz_zzzz"), 403, "không hợp lệ")
    assert session.scalar(select(func.count()).select_from(Report)) == 0


@pytest.mark.parametrize(("changes", "status", "fragment"), [
    ({"service_code": None}, 400, "service_code"),
    ({"service_code": "khong-co"}, 400, "service_code"),
    ({"attribute[ward_code]": None}, 400, "attribute[ward_code]"),
    ({"attribute[ward_code]": "99999"}, 400, "attribute[ward_code]"),
    ({"attribute[ward_code]": "26743"}, 400, "attribute[ward_code]"),  # Phường Bến Thành: another province
    ({"attribute[ward_code]": "Phường Không Có"}, 400, "attribute[ward_code]"),
    ({"address_string": None, "lat": None, "long": None}, 400, "address_string"),
    ({"lat": "bắc"}, 400, "lat"),
    ({"long": "inf"}, 400, "long"),
    ({"lat": None}, 400, "long: Cần cả vĩ độ và kinh độ"),
    ({"lat": "48.85", "long": "2.35"}, 400, "Việt Nam"),
    ({"description": None}, 400, "description"),
    ({"description": "Ngập"}, 400, "description"),
    ({"description": "x" * 10001}, 400, "description"),
    ({"attribute[title]": "Ổ"}, 400, "attribute[title]"),
    ({"first_name": None, "last_name": None}, 400, "first_name"),
    ({"phone": None}, 400, "phone"),
    ({"phone": "12345"}, 400, "phone"),
    ({"email": "khong-phai-email"}, 400, "email"),
    ({"attribute[confidential]": "có lẽ"}, 400, "attribute[confidential]"),
    ({"idempotency_key": "k" * 65}, 400, "Idempotency-Key"),
])
def test_bad_input_is_an_open311_400_and_saves_nothing(session, client, keys, changes, status, fragment):
    for fmt in ("json", "xml"):
        assert_open311_error(post(client, fmt, keys["write"], **changes), status, fragment)
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_a_posted_report_once_published_reads_back_without_its_sender(session, client, search, keys):
    code = post(client, key=keys["write"]).get_json()[0]["service_request_id"]
    report = session.scalar(select(Report).where(Report.code == code))
    report.status, report.published, report.published_at = "accepted", True, NOW
    session.flush()
    search.index()
    body = client.get(f"{BASE}/requests/{code}.json").get_data(as_text=True)
    (item,) = client.get(f"{BASE}/requests/{code}.json").get_json()
    assert item["description"] == GOOD["description"] and item["status"] == "open"
    assert item["service_code"] == "giao-thong" and item["lat"] == 11.03
    for value in ("Nguyễn Văn An", "Văn An", "0912345678", "912 345 678", "an@example.vn", "Báo Tây Ninh"):
        assert value not in body
    assert codes_of(client.get(f"{BASE}/requests.json")) == [code]


# -- API keys on /api/v1 ------------------------------------------------------------------------------------------
def test_api_v1_refuses_an_unknown_or_revoked_key_and_serves_a_valid_one(session, client, keys):
    assert client.get("/api/v1/meta/fields").status_code == 200  # no key: anonymous
    assert client.get("/api/v1/meta/fields", headers={"X-API-Key": keys["read"]}).status_code == 200
    for bad in (keys["revoked"], keys["read"][:-1], "pakn_00000000_abc", "khong-phai-khoa"):
        response = client.get("/api/v1/meta/fields", headers={"X-API-Key": bad})
        assert response.status_code == 401
        error = response.get_json()["error"]
        assert error["code"] == "invalid_api_key" and error["field"] == "api_key" and "thu hồi" in error["message"]
    # The api_key parameter is Open311's; /api/v1 takes the header only (keys stay out of URLs there).
    assert client.get("/api/v1/meta/fields", query_string={"api_key": "rac"}).status_code == 200
    assert_open311_error(client.get(f"{BASE}/services.json", query_string={"api_key": keys["revoked"]}), 403, "thu hồi")
    assert client.get(f"{BASE}/services.json", query_string={"api_key": keys["read"]}).status_code == 200


def test_last_used_is_recorded_at_most_once_a_minute(session, client, keys, clock):
    key = session.scalar(select(ApiKey).where(ApiKey.name == "Nhóm dữ liệu mở"))
    assert key.last_used_at is None
    headers = {"X-API-Key": keys["read"]}
    client.get("/api/v1/meta/fields", headers=headers)
    session.refresh(key)
    assert key.last_used_at == clock.now
    first = clock.now
    clock.advance(seconds=30)
    client.get(f"{BASE}/services.json", headers=headers)
    session.refresh(key)
    assert key.last_used_at == first  # not written again within the minute
    clock.advance(seconds=31)
    client.get(f"{BASE}/services.json", query_string={"api_key": keys["read"]})
    session.refresh(key)
    assert key.last_used_at == clock.now


def test_only_the_hash_of_a_key_is_stored_and_a_key_is_checked_in_full(session, keys):
    raw = keys["write"]
    start, prefix, secret = raw.split("_", 2)
    assert start == "pakn" and len(prefix) == 8 and len(secret) >= 40
    key = apikeys.find(raw)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest() and key.prefix == prefix
    assert apikeys.find(f"pakn_{prefix}_{secret[:-1]}") is None and apikeys.find(raw + "a") is None
    assert apikeys.find(keys["revoked"]) is None
    with pytest.raises(ValueError, match="giới hạn"):
        apikeys.create("X", "nhiều lắm", False)


# -- CLI --------------------------------------------------------------------------------------------------------------
def test_cli_create_prints_the_key_once_and_stores_only_its_hash(cli, session):
    result = cli.invoke(args=["apikeys", "create", "--name", "Báo Tây Ninh", "--rate-limit", "500/hour", "--write"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    raw = lines[-1]
    assert raw.startswith("pakn_") and result.output.count(raw) == 1
    assert "không lưu" in result.output and "MỘT LẦN" in result.output
    key = session.scalar(select(ApiKey).where(ApiKey.name == "Báo Tây Ninh"))
    assert key.rate_limit == "500/hour" and key.can_write is True and key.prefix == raw.split("_")[1]
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    secret = raw.split("_", 2)[2]
    row = session.execute(select(ApiKey.__table__)).one()
    assert not any(secret in str(value) for value in row)

    listed = cli.invoke(args=["apikeys", "list"])
    assert listed.exit_code == 0 and key.prefix in listed.output and "Báo Tây Ninh" in listed.output
    assert "500/hour" in listed.output and "yes" in listed.output and secret not in listed.output

    read_only = cli.invoke(args=["apikeys", "create", "--name", "Đọc thôi"])
    assert read_only.exit_code == 0 and "1000/hour" in read_only.output and "chỉ đọc" in read_only.output
    assert session.scalar(select(ApiKey).where(ApiKey.name == "Đọc thôi")).can_write is False


def test_cli_revoke_and_bad_input(cli, session):
    raw = cli.invoke(args=["apikeys", "create", "--name", "Đối tác"]).output.strip().splitlines()[-1]
    prefix = raw.split("_")[1]
    result = cli.invoke(args=["apikeys", "revoke", prefix])
    assert result.exit_code == 0 and "Đã thu hồi" in result.output
    assert apikeys.find(raw) is None
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    assert key.revoked_at is not None
    listed = cli.invoke(args=["apikeys", "list"]).output
    assert not [line for line in listed.splitlines() if prefix in line][0].rstrip().endswith("—")
    assert cli.invoke(args=["apikeys", "revoke", "khongco"]).exit_code == 1
    bad = cli.invoke(args=["apikeys", "create", "--name", "X", "--rate-limit", "nhanh"])
    assert bad.exit_code == 1 and "giới hạn" in bad.output
    assert cli.invoke(args=["apikeys", "create", "--name", "  "]).exit_code == 1


# -- request limits ----------------------------------------------------------------------------------------------------
@pytest.fixture
def limited_app(fresh_app):
    """An app as in production as far as limits go: 3 requests a minute without a key."""
    from webapp.extensions import db

    application = fresh_app(RATE_LIMITS=True, API_RATE_LIMIT="3/minute")
    with application.app_context():
        small = apikeys.create("Nhỏ", "5/minute", False)[1]
        other = apikeys.create("Khác", "2/minute", False)[1]
        db.session.commit()
    return application, small, other


def test_keys_have_their_own_limit_apart_from_the_anonymous_one(limited_app):
    application, small, other = limited_app
    client = application.test_client()
    # Anonymous: 3 a minute per IP, shared by every API path, whichever blueprint serves it.
    anonymous = [client.get(path).status_code for path in
                 ("/api/v1/meta/fields", f"{BASE}/services.json", "/api/v1/meta/regions", f"{BASE}/services.xml")]
    assert anonymous == [200, 200, 200, 429]
    refused = client.get("/api/v1/meta/fields")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and "Vui lòng thử lại sau" in error["message"]
    assert_open311_error(client.get(f"{BASE}/services.xml"), 429, "thử lại sau")
    # The same IP with a key: the key's own 5 a minute, counted per key.
    keyed = [client.get("/api/v1/meta/fields", headers={"X-API-Key": small}).status_code for _ in range(5)]
    keyed.append(client.get(f"{BASE}/services.json", query_string={"api_key": small}).status_code)
    assert keyed == [200] * 5 + [429]
    assert client.get("/api/v1/meta/fields", headers={"X-API-Key": small}).headers["X-RateLimit-Limit"] == "5"
    # From another address the key is still spent: the limit follows the key, not the IP.
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/api/v1/meta/fields", headers={"X-API-Key": small},
                      environ_base=elsewhere).status_code == 429
    assert client.get("/api/v1/meta/fields", environ_base=elsewhere).status_code == 200  # its own anonymous quota
    assert [client.get("/api/v1/meta/fields", headers={"X-API-Key": other}).status_code
            for _ in range(3)] == [200, 200, 429]
    # Pages outside the APIs are not limited by it.
    assert client.get("/").status_code == 200


def test_a_bad_key_counts_against_the_ip(limited_app):
    application, small, _other = limited_app
    client = application.test_client()
    codes = [client.get("/api/v1/meta/fields", headers={"X-API-Key": "pakn_00000000_sai"}).status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert client.get("/api/v1/meta/fields", headers={"X-API-Key": small}).status_code == 200


def test_login_limits_still_apply_with_api_limits_on(limited_app):
    application, _small, _other = limited_app
    client = application.test_client()
    # A new login name each time: the per-account throttle (its own tests) would answer first.
    codes = [client.post("/dang-nhap/mat-khau", data={"login": f"x{i}", "password": "y"}).status_code
             for i in range(22)]
    assert 429 in codes and codes.index(429) == 20


def test_revoking_a_key_takes_effect_at_once(limited_app):
    application, small, _other = limited_app
    client = application.test_client()
    assert client.get("/api/v1/meta/fields", headers={"X-API-Key": small}).status_code == 200
    runner = application.test_cli_runner()
    assert runner.invoke(args=["apikeys", "revoke", small.split("_")[1]]).exit_code == 0
    assert client.get("/api/v1/meta/fields", headers={"X-API-Key": small}).status_code == 401


# -- an outside client over HTTP --------------------------------------------------------------------------------------
@pytest.fixture
def served(fresh_app):
    """A fresh app served on loopback (werkzeug, a thread), with a write key."""
    from werkzeug.serving import make_server

    from webapp.extensions import db

    application = fresh_app()
    with application.app_context():
        raw = apikeys.create("Báo Tây Ninh", "1000/hour", True)[1]
        db.session.commit()
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield application, f"http://127.0.0.1:{server.server_port}/open311/v2", raw
    server.shutdown()
    thread.join(timeout=10)


def test_an_outside_open311_client_lists_posts_and_reads_back(served):
    """The `georeport` package from PyPI (the `open311` package is Python 2 only and cannot be imported)."""
    import requests
    from georeport import GeoReport

    from webapp.extensions import db
    from webapp.search.indexing import drain_outbox

    application, root, raw = served
    client = GeoReport(root, api_key=raw)
    services = client.get_service_list()
    assert {"service_code": "giao-thong", "service_name": "Giao thông"}.items() <= services[0].items()
    definition = client.get_service_definition("giao-thong")
    assert {a["code"] for a in definition["attributes"]} == {"ward_code", "confidential"}
    xml_client = GeoReport(root, output_format="xml")
    assert xml_client.get_service_list()[0]["service_code"] == "giao-thong"

    # georeport does not post; a client posts the spec's form-encoded body.
    posted = requests.post(f"{root}/requests.json", data={**GOOD, "api_key": raw}, timeout=30)
    assert posted.status_code == 201, posted.text
    code = posted.json()[0]["service_request_id"]
    with pytest.raises(requests.HTTPError) as caught:
        client.get_service_request(code)  # not public yet
    assert caught.value.response.status_code == 404

    with application.app_context():
        report = db.session.scalar(select(Report).where(Report.code == code))
        report.status, report.published, report.published_at = "accepted", True, datetime.now(UTC)
        db.session.commit()
        drain_outbox()
    item = client.get_service_request(code)
    assert item["service_request_id"] == code and item["status"] == "open"
    assert item["service_code"] == "giao-thong" and item["description"] == GOOD["description"]
    assert [r["service_request_id"] for r in client.get_service_requests(status="open")] == [code]
    from_xml = xml_client.get_service_request(code)
    assert from_xml["service_request_id"] == code and from_xml["extended_attributes"]["pakn_status"] == "accepted"
    assert "Nguyễn" not in posted.text + str(item) + str(from_xml)
