"""The one public view of a report: regressions of the leaks it ended, and a check that it is the one home.

(The cross-surface property test is in test_privacy_property.py; feeds in test_feeds.py.)
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
INTERNAL = "Lãnh đạo trả lại dự thảo: bổ sung số liệu"
PHONE, MASKED = "0987654321", "098*****21"


def with_answer(session, report, text: str, draft_text: str | None = None):
    from webapp.auth.models import Unit
    from webapp.reports.models import Answer, Attachment

    unit = session.scalar(select(Unit).where(Unit.slug == "so-xd")) or Unit(name="Sở Xây dựng", slug="so-xd")
    at = datetime.now(UTC) - timedelta(hours=1)
    if draft_text is not None:
        draft = Answer(unit=unit, text=draft_text, state="pending_approval", answered_at=at)
        report.answers.append(draft)
        session.flush()
        session.add(Attachment(report=report, answer=draft, filename="du-thao.pdf", stored_name=f"d-{report.id}",
                               content_type="application/pdf", size=1))
    report.answers.append(Answer(unit=unit, text=text, state="approved", answered_at=at, published_at=at))
    session.flush()


def with_timeline(report, internal_note: str = INTERNAL) -> None:
    from webapp.reports.models import StatusEvent

    at = datetime.now(UTC) - timedelta(hours=2)
    report.events.extend([
        StatusEvent(from_status=None, to_status="pending", note="Đã gửi", created_at=at),
        StatusEvent(from_status="pending", to_status="accepted", note="Đã tiếp nhận", created_at=at),
        StatusEvent(from_status="processing", to_status="processing", note="Gửi dự thảo trả lời chờ duyệt",
                    internal=True, created_at=at),
        StatusEvent(from_status="processing", to_status="processing", note=internal_note, internal=True, created_at=at),
        StatusEvent(from_status="processing", to_status="answered", note="Đã trả lời", created_at=at)])


# -- regressions ----------------------------------------------------------------------------------------
def test_api_detail_has_no_internal_timeline_events(client, session, make_report):
    """GET /api/v1/reports/<code> built its timeline from every event (drafts sent for approval, returned)."""
    report = make_report(status="answered", submitted_at=datetime.now(UTC) - timedelta(hours=3))
    with_timeline(report)
    with_answer(session, report, "Đã sửa xong.", draft_text="Dự thảo chưa duyệt")
    body = client.get(f"/api/v1/reports/{report.code}")
    assert body.status_code == 200
    timeline = body.get_json()["timeline"]
    assert [(e["status"]["code"], e["note"]) for e in timeline] == [
        ("pending", "Đã gửi"), ("accepted", "Đã tiếp nhận"), ("answered", "Đã trả lời")]
    text = body.get_data(as_text=True)
    assert "dự thảo" not in text.lower() and "Dự thảo chưa duyệt" not in text
    # The public page shows the same steps, and never a draft answer's file.
    page = client.get(f"/pakn/{report.code}").get_data(as_text=True)
    assert "Đã tiếp nhận" in page and INTERNAL not in page and "chờ duyệt" not in page and "du-thao.pdf" not in page


def test_lookup_by_code_shows_its_owner_no_internal_event(client, session, make_report):
    report = make_report(sender_phone="0912345678", published=False)
    with_timeline(report)
    page = client.post("/tra-cuu-ma", data={"code": report.code, "phone": "0912 345 678"}).get_data(as_text=True)
    assert "Đã tiếp nhận" in page and "Đã trả lời" in page
    assert INTERNAL not in page and "chờ duyệt" not in page


def test_address_and_answer_are_masked_on_every_public_surface(client, session, search, make_report):
    """The address and the published answer were shown as typed while the content was masked."""
    report = make_report(title="Ống nước vỡ tràn đường", content="Ống nước vỡ, nước tràn ra đường.",
                         address=f"Số 5 hẻm 12, gọi {PHONE} hoặc anh.ba@example.vn", sender_name="Trần Công Khai",
                         sender_phone="0911222333", submitted_at=datetime.now(UTC) - timedelta(hours=3))
    with_answer(session, report, f"Đã liên hệ ông Ba ({PHONE}, anh.ba@example.vn) và sửa ống.")
    search.index()
    code = report.code
    requests = {
        "page": lambda: client.get(f"/pakn/{code}"),
        "api detail": lambda: client.get(f"/api/v1/reports/{code}"),
        "api list": lambda: client.get("/api/v1/reports", query_string={"q": "ống nước"}),
        "similar": lambda: client.post("/api/v1/reports/similar", json={"text": "ống nước vỡ"}),
        "csv": lambda: client.get("/api/v1/reports.csv", query_string={"q": "ống nước"}),
        "jsonl": lambda: client.get("/api/v1/reports.jsonl", query_string={"q": "ống nước"}),
        "atom": lambda: client.get("/tra-cuu/feed.atom", query_string={"q": "ống nước"}),
        "open311 json": lambda: client.get(f"/open311/v2/requests/{code}.json"),
        "open311 xml": lambda: client.get(f"/open311/v2/requests/{code}.xml"),
    }
    surfaces = {}
    for name, call in requests.items():
        response = call()
        surfaces[name] = (response.status_code, response.get_data(as_text=True))  # streamed ones read now
    for name, (status, text) in surfaces.items():
        assert status == 200, name
        assert code in text, name
        assert PHONE not in text and "anh.ba@example.vn" not in text, name
        assert MASKED in text and "a***@example.vn" in text, name
    detail = json.loads(surfaces["api detail"][1])
    assert detail["address"] == "Số 5 hẻm 12, gọi 098*****21 hoặc a***@example.vn"
    assert detail["answer"]["text"] == "Đã liên hệ ông Ba (098*****21, a***@example.vn) và sửa ống."
    (row,) = csv.DictReader(io.StringIO(surfaces["csv"][1].lstrip("\ufeff")))
    assert (row["address"], row["answer"]) == (detail["address"], detail["answer"]["text"])
    (record,) = [json.loads(line) for line in surfaces["jsonl"][1].splitlines()]
    assert (record["address"], record["answer"]) == (detail["address"], detail["answer"]["text"])
    (request_,) = json.loads(surfaces["open311 json"][1])
    assert request_["status_notes"] == detail["answer"]["text"] and request_["address"].startswith(detail["address"])
    xml = ET.fromstring(surfaces["open311 xml"][1].encode())  # noqa: S314 - our own XML
    assert xml.findtext("request/status_notes") == detail["answer"]["text"]
    # The typed phone no longer finds the report through the text (only POST /search by phone, exactly).
    found = client.get("/api/v1/reports", query_string={"q": PHONE}).get_json()
    assert code not in [item["code"] for item in found["items"]]


def test_a_confidential_senders_own_details_are_removed_from_the_text(app, session, make_report):
    from webapp.reports.public import public_view

    report = make_report(confidential=True, sender_name="Lê Văn Kín", sender_phone="0987111222",
                         sender_email="kin@example.vn", sender_address="Số 9 hẻm Kín",
                         title="Ông LE VAN KIN báo ngập", content="Liên hệ Lê Văn Kín, (+84) 987-111-222, KIN@example.vn.",
                         address="Trước nhà Lê  Văn  Kín", organization_name=None)
    with app.test_request_context():
        view = public_view(report)
    assert view.title == "Ông *** báo ngập"
    assert view.content == "Liên hệ ***, ***, ***."
    assert view.address == "Trước nhà ***"
    assert view.sender is None and "sender_name" not in view.doc and "sender_phone" not in view.doc
    # A sender who did not ask for confidentiality keeps their name; their phone is masked, not removed.
    report.confidential = False
    with app.test_request_context():
        view = public_view(report)
    assert view.title == "Ông LE VAN KIN báo ngập"
    assert view.content == "Liên hệ Lê Văn Kín, 098*****22, K***@example.vn."
    assert view.sender.name == "Lê Văn Kín" and view.sender.phone_masked == "098*****22"


def test_unpublished_reports_have_no_public_view(app, session, make_report):
    from webapp.reports.public import public_view

    with app.test_request_context():
        assert public_view(make_report(published=False)) is None
        assert public_view(None) is None


# -- the one home ------------------------------------------------------------------------------------------
# What only the public view may read for public output: the timeline, the files, the published
# answer, the sender's details (as attributes of a report, or as keys of a search document).
PRIVATE_ATTRIBUTES = {"events", "public_events", "own_attachments", "published_answer", "attachments", "sender_name",
                      "sender_phone", "sender_email", "sender_address", "organization_name"}
PRIVATE_KEYS = {"sender_name", "sender_phone"}
FORM_OBJECTS = {"form", "checked", "draft"}  # WTForms forms and send drafts: input, not a report's output
# Who else may read them, and why (staff, admin, the sender themselves, or writing rather than showing).
ALLOWED_MODULES = {
    "webapp/reports/public.py": "the home: the one public view",
    "webapp/reports/models.py": "the model's own properties (own_attachments, public_events)",
    "webapp/reports/transfer.py": "admin import/export of the full record (staff only)",
    "webapp/demo/seed.py": "writes demo data",
}
ALLOWED_PACKAGES = {"webapp/workflow/": "staff workflow pages and services", "webapp/staff/": "staff pages"}
ALLOWED_FUNCTIONS = {
    ("webapp/api/routes.py", "create_report"): "reads the sender's details from the request body (input)",
    ("webapp/api/routes.py", "_send_values"): "maps the send body's sender fields to the form's names (input)",
    ("webapp/api/routes.py", "my_reports"): "the sender's own list (PAKN của tôi)",
    ("webapp/reports/services.py", "create_report"): "writes the report, its first event and files",
    ("webapp/reports/services.py", "sms_tracking_code"): "the SMS to the sender's own phone",
    ("webapp/reports/services.py", "answered_at"): "the sender's rating window",
    ("webapp/reports/services.py", "lookup"): "checks code + phone for the owner's lookup",
}
ALLOWED_TEMPLATES = {
    "workflow/": "staff pages", "staff/": "staff pages",
    "reports/mine_detail.html": "the sender's own report (PAKN của tôi)",
    "reports/sent.html": "the sender's own confirmation (their masked phone)",
}
TEMPLATE_READ = re.compile(r"\breport\.(events|public_events|own_attachments|published_answer|attachments|"
                           r"sender_\w+|organization_name)\b|\banswer\.attachments\b")


def _reads(tree: ast.AST) -> list[tuple[str | None, str, int]]:
    """(enclosing top-level function, what, line) of every private read in a module."""
    found: list[tuple[str | None, str, int]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and function is None:
            function = node.name
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES and not (
                isinstance(node.value, ast.Name) and node.value.id in FORM_OBJECTS):
            found.append((function, node.attr, node.lineno))
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and isinstance(node.args[0], ast.Constant)):
            key = node.args[0].value
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant):
            key = node.left.value  # "sender_name" in doc
        if key in PRIVATE_KEYS:
            found.append((function, f"[{key!r}]", node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return found


def test_only_the_public_view_reads_events_senders_and_files():
    offenders = []
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name in ALLOWED_MODULES or any(name.startswith(p) for p in ALLOWED_PACKAGES):
            continue
        for function, what, line in _reads(ast.parse(path.read_text(encoding="utf-8"))):
            if (name, function) not in ALLOWED_FUNCTIONS:
                offenders.append(f"{name}:{line} {function}() reads {what}")
    for path in sorted((ROOT / "webapp/templates").rglob("*")):
        name = path.relative_to(ROOT / "webapp/templates").as_posix()
        if not path.is_file() or any(name.startswith(p) for p in ALLOWED_TEMPLATES):
            continue
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if TEMPLATE_READ.search(text):
                offenders.append(f"templates/{name}:{number} {text.strip()[:80]}")
    assert offenders == [], "build public output from webapp.reports.public.public_view:\n" + "\n".join(offenders)


def test_the_scan_sees_what_it_forbids():
    """The check above must catch the leak this issue fixed (a timeline built from ``found.events``)."""
    old = "def report(code):\n    return [e.to_status for e in found.events] + [doc['sender_phone']]\n"
    assert [what for _f, what, _l in _reads(ast.parse(old))] == ["events", "['sender_phone']"]
    assert TEMPLATE_READ.search("{% for event in report.public_events %}")
    assert _reads(ast.parse("form.sender_name.data = user.full_name")) == []
