"""Property: no public query of any kind returns or highlights a confidential sender's details."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.text import fold, mask_phone

SECRETS = [
    ("Hoàng Bảo Mật", "0987111222", "baomat.hoang@example.vn"),
    ("Nguyễn Kín Đáo", "0356777888", "kindao@example.vn"),
    ("Công ty TNHH Giấu Tên", "0912000999", "giauten@example.vn"),
]
PUBLIC = ("Trần Công Khai", "0909123456")


def corpus(make_report, search):
    for i, (name, phone, email) in enumerate(SECRETS):
        make_report(title=f"Phản ánh bảo mật số {i} về ngập nước", content=f"Nội dung {i} đường ngập nước",
                    confidential=True, sender_name=name, sender_phone=phone, sender_email=email,
                    sender_address="Số 7 hẻm bí mật", organization_name=name if i == 2 else None,
                    sender_kind="organization" if i == 2 else "individual")
    make_report(title="Phản ánh công khai về ngập nước", sender_name=PUBLIC[0], sender_phone=PUBLIC[1])
    search.index()


def leaks(text: str) -> list[str]:
    found = []
    folded = fold(text)
    for name, phone, email in SECRETS:
        for secret in (name, phone, email, mask_phone(phone)):
            if secret in text or fold(secret) in folded:
                found.append(secret)
    return found


words = [w for name, _, email in SECRETS for w in name.split() + email.split("@")]
phones = [p for _, p, _ in SECRETS] + [PUBLIC[1]]
query_text = st.lists(st.sampled_from(words + ["ngập", "nước", "bảo mật", "phản ánh", "hẻm"]),
                      min_size=0, max_size=3).map(" ".join)
phone_text = st.sampled_from(phones).flatmap(
    lambda p: st.sampled_from([p, "+84 " + p[1:], p[:3] + " " + p[3:6] + " " + p[6:], "84" + p[1:]]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=query_text, phone=st.one_of(st.none(), phone_text), sort=st.sampled_from(["", "relevance", "newest"]))
def test_no_public_search_reveals_a_confidential_sender(client, search, make_report, q, phone, sort):
    if search.engine.count() == 0:
        corpus(make_report, search)
    params = {"q": q, "sort": sort}
    api_get = client.get("/api/v1/reports", query_string=params).get_data(as_text=True)
    assert leaks(api_get) == [], (q, api_get)
    page = client.get("/tra-cuu", query_string=params).get_data(as_text=True)
    # The visitor's own words come back in form fields (the search box, the phone form's hidden
    # copy of the query); those are input, not sender data. Results never sit in a value="…".
    page = re.sub(r'value="[^"]*"', "", page)
    assert leaks(page) == []
    if phone:
        body = client.post("/api/v1/reports/search", json={**params, "phone": phone})
        assert leaks(body.get_data(as_text=True)) == []
        data = body.get_json()
        if phone.replace(" ", "").endswith(PUBLIC[1][1:]):
            if not q:
                assert data["total"] == 1  # the public sender's number still finds their report
        else:
            assert data["total"] == 0  # a confidential sender's number finds nothing at all
        posted = client.post("/tra-cuu", data={**params, "phone": phone}).get_data(as_text=True)
        # The page repeats what the visitor typed (the phone box, "số điện thoại 098*****22" in the
        # summary, the words in a chip); that is their own input, not a sender's data. Everything
        # else must be clean.
        posted = re.sub(r'value="[^"]*"', "", posted)
        posted = re.sub(r'<h2 id="results-title".*?</h2>', "", posted, flags=re.S)
        # The removable filter chips of a phone search repeat the visitor's own words ("Từ khóa: …").
        posted = re.sub(r'<ul class="chips".*?</ul>', "", posted, flags=re.S)
        assert leaks(posted) == []
    for item in json.loads(api_get).get("items", []):
        page = client.get(f"/pakn/{item['code']}").get_data(as_text=True)
        assert leaks(page) == []


# -- every public surface, one public view ------------------------------------------------------------
# A confidential sender who types their own details (in several spellings) into the title, content,
# address and who gets an answer quoting them; staff-only timeline steps and a draft answer's file.
# Every public surface must show exactly the public view and none of the private strings.
import csv  # noqa: E402 - the second part of this module
import io  # noqa: E402
import itertools  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from markupsafe import escape  # noqa: E402
from sqlalchemy import select  # noqa: E402

from indexer.text import OLD_MOBILE_PREFIXES  # noqa: E402

NAMES = ["Hoàng Bảo Mật", "Nguyễn Kín Đáo", "Đoàn Giấu Tên"]
NUMBERS = ["0987111222", "0356777888", "0912000999"]
EMAILS = ["baomat.hoang@example.vn", "kindao@example.vn", "giauten@example.vn"]
INTERNAL_NOTE = "Lãnh đạo trả lại dự thảo: nội bộ chưa công bố"
DRAFT_TEXT = "Dự thảo nội bộ chưa duyệt"
DRAFT_FILE = "du-thao-noi-bo.pdf"
SENDER_ADDRESS = "Số 77 hẻm Kín Cổng"
WORDS = ["đường", "ngập", "nước", "mưa", "cống", "rác", "đèn", "hỏng", "chợ", "cầu", "vỉa", "hè", "&", "<b>", "]]>"]
_serial = itertools.count(1)


def spellings(phone: str) -> list[str]:
    """How people type a number: spaced, dotted, +84, 84, brackets, and the pre-2018 11 digits."""
    spelled = [phone, f"{phone[:4]} {phone[4:7]} {phone[7:]}", f"{phone[:4]}.{phone[4:7]}.{phone[7:]}",
               f"+84 {phone[1:4]} {phone[4:7]} {phone[7:]}", "84" + phone[1:], f"(+84) {phone[1:4]}-{phone[4:7]}-{phone[7:]}"]
    old = next((o for o, new in OLD_MOBILE_PREFIXES.items() if phone.startswith(new)), None)
    if old:
        spelled.append(old + phone[3:])
    return spelled


def name_spellings(name: str) -> list[str]:
    return [name, name.upper(), fold(name).title()]


pii = st.integers(0, len(NAMES) - 1).flatmap(lambda i: st.tuples(
    st.just(i), st.sampled_from(name_spellings(NAMES[i])), st.sampled_from(spellings(NUMBERS[i])),
    st.sampled_from([EMAILS[i], EMAILS[i].upper()])))
words = st.lists(st.sampled_from(WORDS), min_size=2, max_size=5).map(" ".join)
# Where each piece of personal data is typed: title, content, address or the answer.
place = st.sampled_from(["title", "content", "address", "answer"])


def private_strings(i: int) -> list[str]:
    return [*name_spellings(NAMES[i]), *spellings(NUMBERS[i]), mask_phone(NUMBERS[i]), EMAILS[i],
            EMAILS[i].split("@")[0], SENDER_ADDRESS, INTERNAL_NOTE, DRAFT_TEXT, DRAFT_FILE]


def leaked(text: str, i: int) -> list[str]:
    folded = fold(text)
    return [s for s in private_strings(i) if s.lower() in text.lower() or fold(s) in folded]


def hostile_report(session, make_report, data, serial: int):
    """A published confidential report with the sender's details typed everywhere, an internal
    timeline, a published answer quoting them and a draft answer with a file."""
    from webapp.auth.models import Unit
    from webapp.reports.models import Answer, Attachment, StatusEvent

    i, name, phone, email = data["pii"]
    token = f"kiemtra{serial}"
    texts = {"title": f"{token} {data['title']}", "content": data["content"], "address": f"Số {serial} {data['address']}",
             "answer": f"Đã xử lý {data['answer']}"}
    for value, where in zip((name, phone, email), data["places"], strict=True):
        texts[where] += f" {value}"
    at = datetime.now(UTC) - timedelta(hours=2)
    report = make_report(title=texts["title"], content=texts["content"], address=texts["address"], confidential=True,
                         sender_name=NAMES[i], sender_phone=NUMBERS[i], sender_email=EMAILS[i],
                         sender_address=SENDER_ADDRESS, status="answered", submitted_at=at, published_at=at)
    unit = session.scalar(select(Unit).where(Unit.slug == "so-xay-dung")) or Unit(name="Sở Xây dựng", slug="so-xay-dung")
    report.events.extend([
        StatusEvent(from_status=None, to_status="pending", note="Đã gửi", created_at=at),
        StatusEvent(from_status="pending", to_status="accepted", note=f"Đã tiếp nhận, gọi {phone}", created_at=at),
        StatusEvent(from_status="processing", to_status="processing", note=INTERNAL_NOTE, internal=True, created_at=at),
        StatusEvent(from_status="processing", to_status="answered", note="Đã trả lời", created_at=at)])
    draft = Answer(unit=unit, text=DRAFT_TEXT, state="returned", answered_at=at)
    report.answers.extend([draft, Answer(unit=unit, text=texts["answer"], state="approved", answered_at=at,
                                         published_at=at)])
    session.flush()
    session.add(Attachment(report=report, answer=draft, filename=DRAFT_FILE, stored_name=f"draft-{serial}-{report.id}",
                           content_type="application/pdf", size=10))
    session.flush()
    return report, token


def body_of(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries({
    "pii": pii, "places": st.tuples(place, place, place), "title": words, "content": words, "address": words,
    "answer": words}))
def test_every_public_surface_shows_the_public_view_and_no_private_string(app, client, session, search,
                                                                           make_report, data):
    from webapp.reports.public import public_view

    i = data["pii"][0]
    report, token = hostile_report(session, make_report, data, next(_serial))
    code = report.code
    search.index()
    with app.test_request_context():
        view = public_view(report)
        expected_item = view.item()
    assert view.sender is None and view.files == () and all(e.note != INTERNAL_NOTE for e in view.timeline)
    for text in (view.title, view.content, view.address, view.answer.text, *(e.note or "" for e in view.timeline)):
        assert leaked(text, i) == [], text

    # the public page
    page = body_of(client.get(f"/pakn/{code}"))
    assert leaked(page, i) == []
    for text in (view.title, view.content, view.address, view.answer.text):
        assert str(escape(text)) in page
    # the API: detail, list, and the similar reports of the send form
    detail = client.get(f"/api/v1/reports/{code}").get_json()
    assert leaked(json.dumps(detail, ensure_ascii=False), i) == []
    assert (detail["title"], detail["content"], detail["address"], detail["answer"]["text"]) == (
        view.title, view.content, view.address, view.answer.text)
    assert detail["sender"] is None and detail["phone_masked"] is None
    assert [(e["status"]["code"], e["note"]) for e in detail["timeline"]] == [(e.status, e.note) for e in view.timeline]
    listed = client.get("/api/v1/reports", query_string={"q": token})
    assert leaked(listed.get_data(as_text=True), i) == []
    (item,) = [it for it in listed.get_json()["items"] if it["code"] == code]
    assert item == {**expected_item, "excerpt": item["excerpt"]}
    similar = client.post("/api/v1/reports/similar", json={"text": f"{token} {data['title']}"})
    assert leaked(similar.get_data(as_text=True), i) == []
    assert [it["title"] for it in similar.get_json()["items"] if it["code"] == code] == [view.title]
    # a confidential report is never found by its sender's phone (any spelling) or name
    for phone in spellings(NUMBERS[i])[:5]:
        found = client.post("/api/v1/reports/search", json={"phone": phone}).get_json()
        assert code not in [it["code"] for it in found["items"]] and leaked(json.dumps(found), i) == []
    for name in name_spellings(NAMES[i]):
        found = client.get("/api/v1/reports", query_string={"q": name}).get_json()
        assert code not in [it["code"] for it in found["items"]]
    # exports and the feed
    rows = list(csv.DictReader(io.StringIO(body_of(client.get("/api/v1/reports.csv", query_string={"q": token}))
                                           .lstrip("\ufeff"))))
    (row,) = [r for r in rows if r["code"] == code]
    assert (row["title"], row["content"], row["address"], row["answer"], row["sender_name"], row["phone_masked"]) == (
        view.title, view.content, view.address, view.answer.text, "", "")
    assert all(leaked(" ".join(r.values()), i) == [] for r in rows)
    lines = [json.loads(x) for x in body_of(client.get("/api/v1/reports.jsonl", query_string={"q": token})).splitlines()]
    (record,) = [r for r in lines if r["code"] == code]
    assert (record["title"], record["content"], record["address"], record["answer"], record["sender_name"]) == (
        view.title, view.content, view.address, view.answer.text, None)
    assert leaked(json.dumps(lines, ensure_ascii=False), i) == []
    feed = client.get("/tra-cuu/feed.atom", query_string={"q": token}).get_data()
    atom = ET.fromstring(feed)  # noqa: S314 - our own feed; it must parse whatever a report contains
    ns = "{http://www.w3.org/2005/Atom}"
    titles = [e.findtext(f"{ns}title") for e in atom.findall(f"{ns}entry")]
    assert f"{code}: {view.title}" in titles
    assert leaked(feed.decode(), i) == []
    # Open311, JSON and XML
    (request_,) = client.get(f"/open311/v2/requests/{code}.json").get_json()
    assert (request_["description"], request_["status_notes"], request_["extended_attributes"]["title"]) == (
        view.content, view.answer.text, view.title)
    assert request_["address"].startswith(view.address) and request_["media_url"] is None
    assert leaked(json.dumps(request_, ensure_ascii=False), i) == []
    xml = client.get(f"/open311/v2/requests/{code}.xml").get_data()
    assert ET.fromstring(xml).findtext("request/description") == view.content  # noqa: S314 - our own XML
    assert leaked(xml.decode(), i) == []
    # Thống kê and the home page
    for path in ("/thong-ke", "/api/v1/stats", "/"):
        assert leaked(body_of(client.get(path)), i) == [], path
