"""The access layer (webapp/access.py) per resource: whoever may not see a report, a file, an answer,
a warning or a saved search gets 404 on every URL that loads it (page and API), whoever sees it but
may not act gets 403, and what was refused changed nothing. Logins: anonymous visitors are sent to
the right login page and back, the JSON API answers 401 ``login_required``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.auth.models import Membership, Role, Unit, User, UserKind, UserStatus
from webapp.opendata.models import SavedSearch
from webapp.reports.models import Answer, Attachment, Report
from webapp.warnings.models import PublicWarning
from webapp.workflow import services

OWNER_PHONE, OTHER_PHONE = "0912444001", "0912444002"


def text(response) -> str:
    return response.get_data(as_text=True)


def unit(session, slug: str, intake: bool = False) -> Unit:
    found = session.scalar(select(Unit).where(Unit.slug == slug))
    if found is None:
        found = Unit(name=f"Đơn vị {slug}", slug=slug, is_intake=intake)
        session.add(found)
        session.flush()
    return found


def member(session, username: str, role: str, of: Unit) -> User:
    """A staff account that does not log in (an actor for the services)."""
    user = User(username=username, full_name=username, kind=UserKind.STAFF, status=UserStatus.ACTIVE)
    user.memberships.append(Membership(unit=of, role=session.scalar(select(Role).where(Role.name == role))))
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def world(app, session, make_report, make_staff, staff_login, otp_login):
    """Unit A, unit B and intake; a citizen's unpublished report in processing at unit A with a draft
    answer (and its file) waiting for A's leader; logged-in clients for each role."""
    a, b = unit(session, "don-vi-a"), unit(session, "don-vi-b")
    intake = member(session, "tn-actor", "officer", unit(session, "tiep-nhan", intake=True))
    writer = member(session, "a-writer", "officer", a)

    owner = app.test_client()
    otp_login(OWNER_PHONE, c=owner)
    other = app.test_client()
    otp_login(OTHER_PHONE, c=other)
    owner_user = session.scalar(select(User).where(User.phone == OWNER_PHONE))

    report = make_report(status="accepted", published=False, user_id=owner_user.id, sender_phone=OWNER_PHONE)
    services.assign(intake, report, [a])
    answer = services.save_answer(writer, report, a, "Dự thảo trả lời.", [], submit=True)
    session.commit()

    clients = {
        "anonymous": app.test_client(), "owner": owner, "other_citizen": other,
        "a_officer": staff_login(make_staff("a-officer", "officer", unit=a.slug)),
        "a_leader": staff_login(make_staff("a-leader", "leader", unit=a.slug)),
        "b_officer": staff_login(make_staff("b-officer", "officer", unit=b.slug)),
        "b_leader": staff_login(make_staff("b-leader", "leader", unit=b.slug)),
        "intake_leader": staff_login(make_staff("tn-leader", "leader")),
    }
    return {"report": report, "answer": answer, "a": a, "b": b, "clients": clients}


def stored_file(session, report: Report, answer: Answer | None = None) -> Attachment:
    from webapp.reports.uploads import upload_dir

    item = Attachment(report=report, answer=answer, filename="a.pdf", content_type="application/pdf", size=8,
                      stored_name=f"t-{report.code}-{answer.id if answer else 0}.pdf")
    session.add(item)
    session.commit()
    (upload_dir() / item.stored_name).write_bytes(b"%PDF-1.4")
    return item


# -- reports ---------------------------------------------------------------------------------------------
STAFF_URLS = [("get", ""), ("post", "/tiep-nhan"), ("post", "/khong-tiep-nhan"), ("post", "/trung"),
              ("post", "/phan-cong"), ("post", "/sua"), ("post", "/tra-loi"), ("post", "/dong")]
FORMS = {"/tiep-nhan": {"accept-publish": "y"}, "/khong-tiep-nhan": {"reject-reason": "Không thuộc thẩm quyền."},
         "/trung": {"duplicate-original": "PA-0000-0000"}, "/phan-cong": {"assign-units": ["1"]},
         "/sua": {"correct-field": "moi-truong", "correct-ward": "25708"},
         "/tra-loi": {"answer-unit": "1", "answer-text": "Trả lời.", "action": "save"}, "/dong": {"close-note": "x"}}


@pytest.mark.parametrize("method,path", STAFF_URLS)
def test_a_report_outside_a_units_scope_is_a_404_on_every_staff_url(session, world, method, path):
    report = world["report"]
    before = (report.status, len(report.events), len(report.answers))
    for role in ("b_officer", "b_leader"):
        c = world["clients"][role]
        response = getattr(c, method)(f"/can-bo/pakn/{report.code}{path}", data=FORMS.get(path, {}))
        assert response.status_code == 404, (role, text(response)[:300])
    session.expire_all()
    report = session.get(Report, report.id)
    assert (report.status, len(report.events), len(report.answers)) == before


@pytest.mark.parametrize("path", ["/tiep-nhan", "/khong-tiep-nhan", "/trung", "/phan-cong", "/dong"])
def test_a_unit_that_sees_a_report_gets_403_for_what_only_intake_or_a_later_status_allows(session, world, path):
    report = world["report"]
    response = world["clients"]["a_officer"].post(f"/can-bo/pakn/{report.code}{path}", data=FORMS[path])
    assert response.status_code == 403
    assert world["clients"]["a_officer"].get(f"/can-bo/pakn/{report.code}").status_code == 200  # it does see it
    session.expire_all()
    assert session.get(Report, report.id).status == "processing"


def test_intake_sees_every_report_but_only_the_assigned_unit_writes_its_answer(session, world):
    report = world["report"]
    intake = world["clients"]["intake_leader"]
    assert intake.get(f"/can-bo/pakn/{report.code}").status_code == 200
    refused = intake.post(f"/can-bo/pakn/{report.code}/tra-loi", data=FORMS["/tra-loi"])
    assert refused.status_code == 403
    assert len(session.scalars(select(Answer).where(Answer.report_id == report.id)).all()) == 1


def test_the_assigned_unit_may_not_answer_once_the_report_is_no_longer_in_processing(session, world):
    report = world["report"]
    report.status = "answered"
    session.commit()
    c = world["clients"]["a_officer"]
    assert c.get(f"/can-bo/pakn/{report.code}").status_code == 200
    assert c.post(f"/can-bo/pakn/{report.code}/tra-loi", data=FORMS["/tra-loi"]).status_code == 403
    session.expire_all()
    assert [a.text for a in session.get(Report, report.id).answers] == ["Dự thảo trả lời."]


@pytest.mark.parametrize("role", ["anonymous", "other_citizen", "b_officer"])
def test_a_citizens_unpublished_report_is_a_404_on_every_public_and_own_url(world, role):
    report = world["report"]
    c = world["clients"][role]
    assert c.get(f"/pakn/{report.code}").status_code == 404
    api = c.get(f"/api/v1/reports/{report.code}")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"
    if role != "anonymous":  # an anonymous visitor is asked to log in first (below)
        for response in (c.get(f"/pakn-cua-toi/{report.code}"), c.get(f"/da-gui/{report.code}"),
                         c.post(f"/pakn-cua-toi/{report.code}/danh-gia", data={"rating": "1"}),
                         c.post(f"/pakn-cua-toi/{report.code}/xu-ly-lai", data={"reason": "Chưa xử lý gì cả, đề nghị làm lại."})):
            assert response.status_code == 404
        assert report.code not in text(c.get("/pakn-cua-toi"))
    if role == "other_citizen":
        assert report.code not in text(c.get("/api/v1/me/reports"))


def test_the_sender_sees_their_report_and_finds_it_by_code_and_phone(world):
    report, owner, other = world["report"], world["clients"]["owner"], world["clients"]["other_citizen"]
    assert owner.get(f"/pakn-cua-toi/{report.code}").status_code == 200
    assert owner.get(f"/da-gui/{report.code}").status_code == 200
    assert report.code in text(owner.get("/api/v1/me/reports"))
    found = text(other.post("/tra-cuu-ma", data={"code": report.code, "phone": OWNER_PHONE}))
    assert "Tiến trình xử lý" in found  # code + the sender's phone: its status, whoever asks
    wrong = text(other.post("/tra-cuu-ma", data={"code": report.code, "phone": OTHER_PHONE}))
    assert "Tiến trình xử lý" not in wrong and "Không tìm thấy phản ánh với mã và số điện thoại này." in wrong


# -- attachments -----------------------------------------------------------------------------------------
ROLES = ["anonymous", "owner", "other_citizen", "a_officer", "b_officer", "intake_leader"]
FILE_MATRIX = {
    #                        anon owner other a    b    intake
    "unpublished_report":   (404, 200,  404,  200, 404, 200),
    "draft_answer":         (404, 404,  404,  200, 404, 200),
    "published_report":     (200, 200,  200,  200, 200, 200),
    "confidential_report":  (404, 200,  404,  200, 404, 200),
}


def test_files_follow_the_report_and_draft_answer_files_are_for_staff_only(session, world, make_report):
    report = world["report"]
    owner_id = report.user_id
    public = make_report(published=True, status="accepted")
    confidential = make_report(published=True, confidential=True, status="processing", user_id=owner_id)
    services.assign(member(session, "tn-actor-2", "officer", unit(session, "tiep-nhan", intake=True)),
                    confidential, [world["a"]])
    files = {"unpublished_report": stored_file(session, report),
             "draft_answer": stored_file(session, report, world["answer"]),
             "published_report": stored_file(session, public),
             "confidential_report": stored_file(session, confidential)}
    seen = {kind: tuple(world["clients"][role].get(f"/tep/{item.id}").status_code for role in ROLES)
            for kind, item in files.items()}
    assert seen == FILE_MATRIX
    assert world["clients"]["anonymous"].get("/tep/999999999").status_code == 404


def test_staff_of_another_unit_open_the_files_any_visitor_may_open(session, world, make_report):
    """A published report's file was a 404 for staff outside the report's scope, though public."""
    public = make_report(published=True, status="accepted")
    item = stored_file(session, public)
    assert world["clients"]["anonymous"].get(f"/tep/{item.id}").status_code == 200
    assert world["clients"]["b_officer"].get(f"/tep/{item.id}").status_code == 200


# -- answers ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,data", [("duyet", {}), ("tra-lai", {"return-note": "Sửa lại đoạn hai."})])
def test_an_answer_outside_the_scope_is_404_and_one_seen_but_not_the_leaders_is_403(session, world, path, data):
    answer = world["answer"]
    assert world["clients"]["b_leader"].post(f"/can-bo/tra-loi/{answer.id}/{path}", data=data).status_code == 404
    assert world["clients"]["intake_leader"].post(f"/can-bo/tra-loi/{answer.id}/{path}", data=data).status_code == 403
    assert world["clients"]["a_officer"].post(f"/can-bo/tra-loi/{answer.id}/{path}", data=data).status_code == 403
    assert world["clients"]["b_leader"].post(f"/can-bo/tra-loi/999999999/{path}", data=data).status_code == 404
    session.expire_all()
    assert session.get(Answer, answer.id).state == "pending_approval"
    assert world["clients"]["a_leader"].post(f"/can-bo/tra-loi/{answer.id}/{path}", data=data).status_code == 302
    session.expire_all()
    assert session.get(Answer, answer.id).state == ("approved" if path == "duyet" else "returned")


# -- warnings --------------------------------------------------------------------------------------------
@pytest.fixture
def warning(session, clock, world):
    from datetime import timedelta

    author = member(session, "a-warn", "officer", world["a"])
    item = PublicWarning(unit=world["a"], created_by=author, title="Triều cường dâng cao", content="Tránh ven sông.",
                         level="danger", whole_province=True, state="pending", starts_at=clock.now,
                         ends_at=clock.now + timedelta(hours=5), created_at=clock.now, updated_at=clock.now)
    session.add(item)
    session.commit()
    return item


def test_another_units_warning_is_a_404_on_every_url(session, world, warning):
    b_leader = world["clients"]["b_leader"]
    assert b_leader.get(f"/can-bo/canh-bao/{warning.id}/sua").status_code == 404
    assert b_leader.post(f"/can-bo/canh-bao/{warning.id}/sua", data={"title": "Đổi"}).status_code == 404
    assert b_leader.post(f"/can-bo/canh-bao/{warning.id}/duyet").status_code == 404
    assert b_leader.post(f"/can-bo/canh-bao/{warning.id}/tu-choi", data={"reason": "Sai"}).status_code == 404
    assert "Triều cường" not in text(b_leader.get("/can-bo/canh-bao"))
    session.expire_all()
    assert session.get(PublicWarning, warning.id).state == "pending"


def test_a_leader_who_only_works_in_the_warnings_unit_sees_it_but_may_not_approve_it(
        session, world, warning, make_staff, staff_login):
    """Leader of unit B and officer of unit A: sees A's warning (may edit it), may not approve it."""
    user = make_staff("b-leader-a-officer", "leader", unit=world["b"].slug)
    user.memberships.append(Membership(unit=world["a"], role=session.scalar(select(Role).where(Role.name == "officer"))))
    session.commit()
    c = staff_login(user)
    assert c.get(f"/can-bo/canh-bao/{warning.id}/sua").status_code == 200
    assert c.post(f"/can-bo/canh-bao/{warning.id}/duyet").status_code == 403
    assert c.post(f"/can-bo/canh-bao/{warning.id}/tu-choi", data={"reason": "Sai"}).status_code == 403
    session.expire_all()
    assert session.get(PublicWarning, warning.id).state == "pending"


# -- saved searches --------------------------------------------------------------------------------------
def test_someone_elses_saved_search_is_a_404(session, world):
    owner_id = world["report"].user_id
    saved = SavedSearch(user_id=owner_id, name="Ngập nước", query_string="q=ng%E1%BA%ADp", frequency="daily",
                        email="an@example.vn")
    session.add(saved)
    session.commit()
    for role in ("other_citizen", "a_officer"):
        c = world["clients"][role]
        assert c.post(f"/tim-kiem-da-luu/{saved.id}", data={f"s{saved.id}-name": "Của tôi",
                                                             f"s{saved.id}-frequency": "none"}).status_code == 404
        assert c.post(f"/tim-kiem-da-luu/{saved.id}/xoa").status_code == 404
        assert "Ngập nước" not in text(c.get("/tim-kiem-da-luu"))
    session.expire_all()
    kept = session.get(SavedSearch, saved.id)
    assert kept is not None and kept.name == "Ngập nước" and kept.frequency == "daily"
    assert world["clients"]["owner"].post(f"/tim-kiem-da-luu/{saved.id}/xoa").status_code == 302


# -- logging in ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,message", [
    ("get", "/gui-phan-anh", "Vui lòng đăng nhập để gửi phản ánh, hiến kế."),
    ("get", "/pakn-cua-toi?status=pending", "Vui lòng đăng nhập để gửi phản ánh, hiến kế."),
    ("get", "/pakn-cua-toi/PA-2222-2222", "Vui lòng đăng nhập để gửi phản ánh, hiến kế."),
    ("post", "/pakn-cua-toi/PA-2222-2222/danh-gia", "Vui lòng đăng nhập để gửi phản ánh, hiến kế."),
    ("get", "/tim-kiem-da-luu", "Vui lòng đăng nhập để lưu tìm kiếm và nhận thư báo."),
    ("post", "/tim-kiem-da-luu/1/xoa", "Vui lòng đăng nhập để lưu tìm kiếm và nhận thư báo."),
])
def test_anonymous_visitors_are_asked_to_log_in_and_come_back(client, method, path, message):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dang-nhap?next=")
    assert response.headers["Location"].split("next=", 1)[1].replace("%3F", "?").replace("%3D", "=") == path
    assert message in text(client.get("/dang-nhap"))


@pytest.mark.parametrize("path", ["/can-bo/", "/can-bo/pakn/PA-2222-2222", "/can-bo/canh-bao", "/can-bo/mau-tra-loi"])
def test_staff_pages_send_visitors_to_the_staff_login_and_refuse_citizens(app, client, otp_login, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/can-bo/dang-nhap?next=")
    otp_login("0912444009")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("method,path", [("get", "/api/v1/me/reports"), ("post", "/api/v1/reports")])
def test_the_json_api_answers_401_json_not_a_login_page(client, method, path):
    response = getattr(client, method)(path, json={})
    assert response.status_code == 401
    assert response.get_json()["error"] == {"code": "login_required", "message": "Vui lòng đăng nhập.",
                                            "field": None}
