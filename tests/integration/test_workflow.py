"""The report workflow: transitions, intake, assignment and deadlines, answers with leader approval,
the staff inbox (staff search scope), confidential-sender audit, and the permission matrix by role
and unit, including direct access by id."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select

from webapp.auth.models import AuditEvent, Membership, Role, Unit, User, UserKind, UserStatus
from webapp.reports.models import STATUS_LABELS, Answer, AnswerState, Attachment, Report, Status
from webapp.workflow import services
from webapp.workflow.services import TRANSITIONS, WorkflowError

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def text(response) -> str:
    return response.get_data(as_text=True)


def sms_to(app, phone: str) -> list[str]:
    path = Path(app.config["SMS_FILE_PATH"])
    if not path.exists():
        return []
    return [m["text"] for m in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if m["to"] == phone]


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def unit_a(session):
    unit = Unit(name="Sở Xây dựng Tây Ninh", slug="so-xay-dung-test")
    session.add(unit)
    session.flush()
    return unit


@pytest.fixture
def unit_b(session):
    unit = Unit(name="Sở Y tế Tây Ninh", slug="so-y-te-test")
    session.add(unit)
    session.flush()
    return unit


def member(session, username: str, role: str, unit: Unit) -> User:
    """A staff account without a password (not logging in; just a member of ``unit``)."""
    user = User(username=username, full_name=username, kind=UserKind.STAFF, status=UserStatus.ACTIVE)
    user.memberships.append(Membership(unit=unit, role=session.scalar(select(Role).where(Role.name == role))))
    session.add(user)
    session.flush()
    return user


# -- transitions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("start", list(Status))
def test_every_legal_move_is_recorded_and_every_illegal_one_refused(session, make_report, make_staff, start):
    actor = make_staff(f"actor-{start.value}", "officer")
    for target in Status:
        report = make_report(status=start.value)
        events_before = len(report.events)
        if target in TRANSITIONS[start]:
            event = services.transition(report, target, actor, "ghi chú")
            session.flush()
            assert report.status == target
            assert (event.from_status, event.to_status, event.actor, event.note) == (start, target, actor, "ghi chú")
            assert event.created_at is not None and len(report.events) == events_before + 1
        else:
            with pytest.raises(WorkflowError) as refused:
                services.transition(report, target, actor, "ghi chú")
            assert refused.value.status == 409
            assert str(STATUS_LABELS[start]) in refused.value.message
            assert str(STATUS_LABELS[target]) in refused.value.message
            assert report.status == start and len(report.events) == events_before


def test_the_table_is_the_documented_workflow():
    legal = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert legal == {
        (Status.PENDING, Status.ACCEPTED), (Status.PENDING, Status.REJECTED), (Status.PENDING, Status.DUPLICATE),
        (Status.ACCEPTED, Status.PROCESSING), (Status.PROCESSING, Status.ANSWERED),
        (Status.ANSWERED, Status.CLOSED), (Status.ANSWERED, Status.PROCESSING)}


# -- the whole journey through the pages ----------------------------------------------------------
def test_intake_accepts_and_assigns_the_unit_answers_the_leader_approves_the_citizen_sees_it(
        app, session, clock, make_report, make_staff, staff_login, unit_a, search):
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # Friday 09:00 in Vietnam
    report = make_report(status="pending", published=False, sender_phone="0912000111",
                         title="Cống thoát nước bị tắc ở chợ", submitted_at=clock.now)
    intake = staff_login(make_staff("tn-canbo", "officer"))
    assert report.code in text(intake.get("/can-bo/"))  # the intake queue lists the new report

    response = intake.post(f"/can-bo/pakn/{report.code}/tiep-nhan", data={"accept-publish": "y", "accept-note": ""})
    assert response.status_code == 302
    session.refresh(report)
    assert report.status == "accepted" and report.published
    assert any("da duoc tiep nhan" in m for m in sms_to(app, "0912000111"))

    response = intake.post(f"/can-bo/pakn/{report.code}/phan-cong", data={"assign-units": [str(unit_a.id)]})
    assert response.status_code == 302, text(response)[:400]
    session.refresh(report)
    assert report.status == "processing" and [a.unit for a in report.assignments] == [unit_a]
    # giao-thong: 5 working days from Friday 20/11 → Friday 27/11, end of day in Vietnam
    assert report.deadline_at.astimezone(VN).date().isoformat() == "2026-11-27"
    assert report.events[-1].actor.username == "tn-canbo" and "Sở Xây dựng Tây Ninh" in report.events[-1].note

    officer = staff_login(make_staff("a-canbo", "officer", unit=unit_a.slug))
    page = text(officer.get(f"/can-bo/pakn/{report.code}"))
    assert "Soạn trả lời" in page
    response = officer.post(f"/can-bo/pakn/{report.code}/tra-loi", content_type="multipart/form-data", data={
        "answer-unit": str(unit_a.id), "answer-text": "Đã nạo vét cống, nước rút ngay trong ngày.",
        "answer-files": [(io.BytesIO(jpeg()), "anh-hien-truong.jpg")], "action": "submit"})
    assert response.status_code == 302, text(response)[:400]
    session.refresh(report)
    answer = report.answers[-1]
    assert answer.state == AnswerState.PENDING_APPROVAL and len(answer.attachments) == 1
    file_url = f"/tep/{answer.attachments[0].id}"
    # Not public yet: neither the answer nor its file.
    public = app.test_client()
    assert "Đã nạo vét cống" not in text(public.get(f"/pakn/{report.code}"))
    assert public.get(file_url).status_code == 404
    assert "gửi trả lời để lãnh đạo duyệt" not in text(public.get(f"/pakn/{report.code}"))  # internal step

    leader = staff_login(make_staff("a-lanhdao", "leader", unit=unit_a.slug))
    assert report.code in text(leader.get("/can-bo/"))  # "Trả lời chờ tôi duyệt"
    assert leader.post(f"/can-bo/tra-loi/{answer.id}/duyet").status_code == 302
    session.refresh(report)
    assert report.status == "answered" and report.published_answer is not None
    assert report.published_answer.approved_by.username == "a-lanhdao"
    assert any("da co tra loi" in m for m in sms_to(app, "0912000111"))

    page = text(public.get(f"/pakn/{report.code}"))
    assert "Đã nạo vét cống, nước rút ngay trong ngày." in page and "anh-hien-truong.jpg" in page
    assert public.get(file_url).status_code == 200
    search.index()
    found = public.get("/api/v1/reports?q=cong thoat nuoc").get_json()
    assert found["items"][0]["answer"]["text"].startswith("Đã nạo vét cống")

    assert intake.post(f"/can-bo/pakn/{report.code}/dong", data={"close-note": ""}).status_code == 302
    session.refresh(report)
    assert report.status == "closed"


def test_the_citizen_sees_the_answer_in_my_reports(app, session, clock, make_report, make_staff, unit_a, otp_login,
                                                  client):
    phone = otp_login("0912000222")
    citizen = session.scalar(select(User).where(User.phone == phone))
    report = make_report(status="pending", published=False, user_id=citizen.id, sender_phone=phone)
    intake, officer = make_staff("tn-2", "officer"), member(session, "a-2", "officer", unit_a)
    leader = member(session, "l-2", "leader", unit_a)
    services.accept(intake, report, publish=False)
    services.assign(intake, report, [unit_a])
    answer = services.save_answer(officer, report, unit_a, "Đã sửa xong đèn đường.", [], submit=True)
    services.approve_answer(leader, answer)
    session.commit()
    page = text(client.get(f"/pakn-cua-toi/{report.code}"))
    assert "Đã sửa xong đèn đường." in page and "Đã trả lời" in page
    assert app.test_client().get(f"/pakn/{report.code}").status_code == 404  # not published: private answer


# -- intake decisions ---------------------------------------------------------------------------------
def test_rejection_needs_a_reason_which_the_citizen_sees(app, session, make_report, make_staff, staff_login, otp_login,
                                                        client):
    phone = otp_login("0912000333")
    citizen = session.scalar(select(User).where(User.phone == phone))
    report = make_report(status="pending", published=False, user_id=citizen.id, sender_phone=phone)
    intake = staff_login(make_staff("tn-3", "officer"))
    empty = intake.post(f"/can-bo/pakn/{report.code}/khong-tiep-nhan", data={"reject-reason": "  "})
    assert empty.status_code == 400 and "Vui lòng nêu lý do không tiếp nhận" in text(empty)
    session.refresh(report)
    assert report.status == "pending"
    reason = "Nội dung thuộc thẩm quyền của Tòa án, đề nghị liên hệ Tòa án nhân dân tỉnh."
    assert intake.post(f"/can-bo/pakn/{report.code}/khong-tiep-nhan", data={"reject-reason": reason}).status_code == 302
    session.refresh(report)
    assert report.status == "rejected" and report.events[-1].note == reason
    assert reason in text(client.get(f"/pakn-cua-toi/{report.code}"))
    assert any("khong duoc tiep nhan" in m for m in sms_to(app, phone))


def test_duplicates_are_linked_both_ways_and_bad_codes_keep_the_input(session, make_report, make_staff, staff_login):
    original = make_report(status="processing")
    report = make_report(status="pending", published=False)
    intake = staff_login(make_staff("tn-4", "officer"))
    unknown = intake.post(f"/can-bo/pakn/{report.code}/trung", data={"duplicate-original": "PA-ZZZZ-ZZZZ"})
    assert unknown.status_code == 400 and "Không tìm thấy phản ánh" in text(unknown)
    assert 'value="PA-ZZZZ-ZZZZ"' in text(unknown)  # what was typed is kept
    itself = intake.post(f"/can-bo/pakn/{report.code}/trung", data={"duplicate-original": report.code})
    assert "không thể trùng với chính nó" in text(itself)
    response = intake.post(f"/can-bo/pakn/{report.code}/trung", data={"duplicate-original": original.code.lower()})
    assert response.status_code == 302
    session.refresh(report)
    session.refresh(original)
    assert report.status == "duplicate" and report.duplicate_of == original and original.duplicates == [report]
    assert original.status == "processing"  # the original's status is untouched, its timeline says so
    assert report.code in original.events[-1].note
    assert original.code in text(intake.get(f"/can-bo/pakn/{report.code}"))
    assert report.code in text(intake.get(f"/can-bo/pakn/{original.code}"))


def test_illegal_moves_through_the_pages_are_refused_with_a_message(session, make_report, make_staff, staff_login,
                                                                    unit_a):
    intake = staff_login(make_staff("tn-5", "officer"))
    accepted = make_report(status="accepted")
    session.commit()
    again = intake.post(f"/can-bo/pakn/{accepted.code}/tiep-nhan", data={"accept-publish": "y"})
    assert again.status_code == 409 and "Không thể chuyển phản ánh từ “Đã tiếp nhận” sang “Đã tiếp nhận”" in text(again)
    pending = make_report(status="pending")
    session.commit()
    early = intake.post(f"/can-bo/pakn/{pending.code}/phan-cong", data={"assign-units": [str(unit_a.id)]})
    assert early.status_code == 409 and "Chỉ phân công được phản ánh đã tiếp nhận" in text(early)
    closed = make_report(status="closed")
    session.commit()
    assert intake.post(f"/can-bo/pakn/{closed.code}/khong-tiep-nhan",
                       data={"reject-reason": "Trùng lặp"}).status_code == 409
    session.refresh(closed)
    assert closed.status == "closed"


def test_officers_correct_field_and_ward_with_a_timeline_entry(session, make_report, make_staff, staff_login):
    report = make_report(status="accepted")
    intake = staff_login(make_staff("tn-6", "officer"))
    response = intake.post(f"/can-bo/pakn/{report.code}/sua", data={"correct-field": "moi-truong", "correct-ward": "25708"})
    assert response.status_code == 302
    session.refresh(report)
    assert report.field.slug == "moi-truong" and "lĩnh vực" in report.events[-1].note
    outside = intake.post(f"/can-bo/pakn/{report.code}/sua", data={"correct-field": "moi-truong", "correct-ward": "1"})
    assert outside.status_code == 400


def test_a_leader_returns_a_draft_which_is_fixed_and_resubmitted(session, make_report, make_staff, staff_login, unit_a):
    report = make_report(status="accepted")
    intake = make_staff("tn-7", "officer")
    services.assign(intake, report, [unit_a])
    officer_user = make_staff("a-7", "officer", unit=unit_a.slug)
    leader = staff_login(make_staff("al-7", "leader", unit=unit_a.slug))
    answer = services.save_answer(officer_user, report, unit_a, "Bản nháp đầu.", [], submit=True)
    session.commit()
    no_note = leader.post(f"/can-bo/tra-loi/{answer.id}/tra-lai", data={"return-note": ""}, follow_redirects=True)
    assert "Vui lòng ghi rõ cần sửa gì." in text(no_note)
    leader.post(f"/can-bo/tra-loi/{answer.id}/tra-lai", data={"return-note": "Bổ sung thời gian khắc phục."})
    session.refresh(answer)
    assert answer.state == AnswerState.RETURNED and answer.return_note == "Bổ sung thời gian khắc phục."
    officer = staff_login(officer_user)
    page = text(officer.get(f"/can-bo/pakn/{report.code}"))
    assert "Bổ sung thời gian khắc phục." in page and "Bản nháp đầu." in page  # the draft comes back to edit
    officer.post(f"/can-bo/pakn/{report.code}/tra-loi", data={
        "answer-unit": str(unit_a.id), "answer-text": "Đã khắc phục xong ngày 25/11.", "action": "submit"})
    session.refresh(answer)
    assert answer.state == AnswerState.PENDING_APPROVAL and answer.text == "Đã khắc phục xong ngày 25/11."
    assert session.scalar(select(func.count()).select_from(Answer).where(Answer.report_id == report.id)) == 1
    leader.post(f"/can-bo/tra-loi/{answer.id}/duyet")
    session.refresh(report)
    assert report.status == "answered"


def test_an_empty_answer_keeps_the_form_and_a_bad_file_is_refused(session, make_report, make_staff, staff_login, unit_a):
    report = make_report(status="accepted")
    services.assign(make_staff("tn-8", "officer"), report, [unit_a])
    session.commit()
    officer = staff_login(make_staff("a-8", "officer", unit=unit_a.slug))
    empty = officer.post(f"/can-bo/pakn/{report.code}/tra-loi", data={"answer-unit": str(unit_a.id), "answer-text": ""})
    assert empty.status_code == 400 and "Vui lòng nhập nội dung trả lời." in text(empty)
    bad = officer.post(f"/can-bo/pakn/{report.code}/tra-loi", content_type="multipart/form-data", data={
        "answer-unit": str(unit_a.id), "answer-text": "Nội dung trả lời giữ lại",
        "answer-files": [(io.BytesIO(b"<html><script>alert(1)</script>"), "trang.html")], "action": "save"})
    assert bad.status_code == 400 and "Nội dung trả lời giữ lại" in text(bad)
    assert session.scalar(select(func.count()).select_from(Answer)) == 0


def test_answer_templates_per_field(session, make_report, make_staff, staff_login, unit_a):
    leader = staff_login(make_staff("al-9", "leader", unit=unit_a.slug))
    response = leader.post("/can-bo/mau-tra-loi", data={"field": "giao-thong", "title": "Đã vá ổ gà",
                                                         "text": "Đơn vị đã vá ổ gà trên tuyến đường."})
    assert response.status_code == 302
    officer_user = make_staff("a-9", "officer", unit=unit_a.slug)
    officer = staff_login(officer_user)
    assert officer.post("/can-bo/mau-tra-loi", data={"field": "giao-thong", "title": "x", "text": "y"}).status_code == 403
    report = make_report(status="accepted")
    services.assign(make_staff("tn-9", "officer"), report, [unit_a])
    session.commit()
    page = text(officer.get(f"/can-bo/pakn/{report.code}"))
    assert "Đã vá ổ gà" in page
    from webapp.reports.models import AnswerTemplate

    template = session.scalar(select(AnswerTemplate).where(AnswerTemplate.title == "Đã vá ổ gà"))
    prefilled = text(officer.get(f"/can-bo/pakn/{report.code}?mau={template.id}"))
    assert "Đơn vị đã vá ổ gà trên tuyến đường.</textarea>" in prefilled
    other_field = make_report(status="accepted", field_slug="y-te")
    services.assign(make_staff("tn-9b", "officer"), other_field, [unit_a])
    session.commit()
    assert "Đã vá ổ gà" not in text(officer.get(f"/can-bo/pakn/{other_field.code}"))


# -- deadlines and overdue ----------------------------------------------------------------------------
def test_overdue_reports_are_flagged_for_staff_and_the_public(app, session, clock, make_report, make_staff,
                                                              staff_login, unit_a, search):
    app.config["HOLIDAYS"] = ["11-24"]
    try:
        clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # Friday
        report = make_report(status="accepted", title="Đèn tín hiệu hỏng ở ngã tư")
        services.assign(make_staff("tn-10", "officer"), report, [unit_a])
        session.commit()
        # 5 working days from Friday 20/11, Tuesday 24/11 a holiday: Mon 23, Wed 25 … Mon 30.
        assert report.deadline_at.astimezone(VN).date().isoformat() == "2026-11-30"
        public = app.test_client()
        assert "Quá hạn" not in text(public.get(f"/pakn/{report.code}"))
        clock.now = datetime(2026, 11, 30, 16, 59, tzinfo=UTC)  # 23:59 on the due day: not late yet
        assert not services.is_overdue(report)
        clock.now = datetime(2026, 11, 30, 17, 0, 1, tzinfo=UTC)  # 00:00:01 on 1/12
        assert services.is_overdue(report)
        assert "Quá hạn xử lý" in text(public.get(f"/pakn/{report.code}"))
        officer = staff_login(make_staff("a-10", "officer", unit=unit_a.slug))
        board = text(officer.get("/can-bo/"))
        assert "Quá hạn xử lý" in board and report.code in board.split("Quá hạn xử lý")[1]
        search.index()
        overdue = text(officer.get("/can-bo/hop-thu?qua_han=1"))
        assert report.code in overdue
        clock.now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
        assert report.code not in text(officer.get("/can-bo/hop-thu?qua_han=1"))
    finally:
        app.config["HOLIDAYS"] = ["01-01", "04-30", "05-01", "09-01", "09-02"]


def test_reopening_gives_a_fresh_deadline(session, clock, make_report, make_staff, unit_a):
    clock.now = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    report = make_report(status="accepted")
    intake = make_staff("tn-11", "officer")
    services.assign(intake, report, [unit_a])
    answer = services.save_answer(member(session, "a-11", "officer", unit_a), report, unit_a, "Xong.", [], True)
    services.approve_answer(member(session, "al-11", "leader", unit_a), answer)
    first = report.deadline_at
    clock.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    from webapp.reports.services import reopen

    reopen(report, intake, "Vẫn chưa sửa xong.")
    assert report.status == "processing" and report.deadline_at > first
    assert report.deadline_at.astimezone(VN).date().isoformat() == "2026-11-30"


# -- staff inbox (search contract, staff scope) --------------------------------------------------
def test_the_inbox_shows_each_unit_its_own_and_intake_everything(app, session, make_report, make_staff, staff_login,
                                                               unit_a, unit_b, search):
    intake_user = make_staff("tn-12", "officer")
    new = make_report(status="pending", published=False, title="Rác thải tồn đọng ở chợ đêm")
    for_a = make_report(status="accepted", title="Ổ gà lớn trên đường Hùng Vương")
    for_b = make_report(status="accepted", title="Trạm y tế thiếu thuốc", published=False)
    secret = make_report(status="accepted", title="Cơ sở karaoke gây ồn", confidential=True,
                         sender_name="Người Giấu Tên", sender_phone="0912999888")
    services.assign(intake_user, for_a, [unit_a])
    services.assign(intake_user, for_b, [unit_b])
    services.assign(intake_user, secret, [unit_a])
    search.index()

    intake = staff_login(intake_user)
    everything = text(intake.get("/can-bo/hop-thu"))
    assert all(r.code in everything for r in (new, for_a, for_b, secret))
    only_new = text(intake.get("/can-bo/hop-thu?status=pending"))
    assert new.code in only_new and for_a.code not in only_new

    a = staff_login(make_staff("a-12", "officer", unit=unit_a.slug))
    mine = text(a.get("/can-bo/hop-thu"))
    assert for_a.code in mine and secret.code in mine
    assert new.code not in mine and for_b.code not in mine
    assert "Người Giấu Tên" not in mine and "0912999888" not in mine  # not in lists; only on the audited page
    assert for_b.code not in text(a.get("/can-bo/hop-thu?q=thieu thuoc"))  # words do not cross the scope
    assert for_a.code in text(a.get("/can-bo/hop-thu?q=o ga"))  # Vietnamese-aware search, as in Tra cứu

    b = staff_login(make_staff("b-12", "officer", unit=unit_b.slug))
    theirs = text(b.get("/can-bo/hop-thu"))
    assert for_b.code in theirs and for_a.code not in theirs and secret.code not in theirs
    # The public index holds none of the unpublished reports.
    public_codes = {i["code"] for i in app.test_client().get("/api/v1/reports?per_page=50").get_json()["items"]}
    assert for_b.code not in public_codes and new.code not in public_codes and for_a.code in public_codes


def test_the_inbox_degrades_with_a_message_when_the_staff_index_is_away(app, session, make_staff, staff_login, tmp_path):
    from indexer.sqlite_fts import SqliteEngine

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    previous = app.extensions.get("pakn_search_staff")
    app.extensions["pakn_search_staff"] = SqliteEngine(blocker / "staff.sqlite3")
    try:
        intake = staff_login(make_staff("tn-13", "officer"))
        response = intake.get("/can-bo/hop-thu")
        assert response.status_code == 200 and "tạm gián đoạn" in text(response)
        assert intake.get("/can-bo/").status_code == 200  # the dashboard reads the database
    finally:
        app.extensions["pakn_search_staff"] = previous


def test_bad_inbox_parameters_get_a_message(make_staff, staff_login, search):
    intake = staff_login(make_staff("tn-14", "officer"))
    response = intake.get("/can-bo/hop-thu?status=bogus")
    assert response.status_code == 400 and "Trạng thái &#39;bogus&#39; không hợp lệ" in text(response)


# -- confidential senders ---------------------------------------------------------------------------
def test_every_display_of_a_confidential_sender_is_audited(session, make_report, make_staff, staff_login):
    secret = make_report(status="pending", confidential=True, sender_name="Trần Bí Mật", sender_phone="0912777666")
    open_report = make_report(status="pending", sender_name="Lê Công Khai")
    user = make_staff("tn-15", "officer")
    intake = staff_login(user)

    def views() -> list[AuditEvent]:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event == "confidential_sender_viewed")))

    page = text(intake.get(f"/can-bo/pakn/{secret.code}"))
    assert "Trần Bí Mật" in page and "0912777666" in page and "đã được ghi vào nhật ký" in page
    intake.get(f"/can-bo/pakn/{secret.code}")
    events = views()
    assert len(events) == 2 and {(e.user_id, e.subject) for e in events} == {(user.id, secret.code)}
    assert all(e.created_at is not None for e in events)
    assert "Lê Công Khai" in text(intake.get(f"/can-bo/pakn/{open_report.code}"))
    assert len(views()) == 2  # a sender who did not ask for confidentiality is not audited


# -- permission matrix -------------------------------------------------------------------------------
ROLES = ["intake_officer", "intake_leader", "a_officer", "a_leader", "b_officer", "b_leader", "admin",
         "citizen", "anonymous"]
# Expected status code of each action for each role, on reports of unit A (or new, unassigned ones).
# 302 = done; 403 = may see, may not act; 404 = may not even see (direct access by id).
MATRIX = {
    #                 view  accept assign correct answer approve file
    "intake_officer": (200, 302,   302,   302,    403,   403,    200),
    "intake_leader":  (200, 302,   302,   302,    403,   403,    200),
    "a_officer":      (200, 404,   404,   302,    302,   403,    200),
    "a_leader":       (200, 404,   404,   302,    302,   302,    200),
    "b_officer":      (404, 404,   404,   404,    404,   403,    404),
    "b_leader":       (404, 404,   404,   404,    404,   404,    404),
    "admin":          (200, 302,   302,   302,    403,   403,    200),
    "citizen":        (403, 403,   403,   403,    403,   403,    404),
    "anonymous":      (302, 302,   302,   302,    302,   302,    404),
}
ACTIONS = ("view", "accept", "assign", "correct", "answer", "approve", "file")


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(app, session, make_report, make_staff, staff_login, otp_login, unit_a, unit_b, role):
    intake = member(session, "tn-m", "officer", session.scalar(select(Unit).where(Unit.slug == "tiep-nhan"))
                    or Unit(name="Bộ phận tiếp nhận", slug="tiep-nhan", is_intake=True))
    writer = member(session, "a-writer", "officer", unit_a)

    def processing_report(**kw) -> Report:
        report = make_report(status="accepted", **kw)
        services.assign(intake, report, [unit_a])
        return report

    def pending_answer() -> Answer:
        report = processing_report()
        return services.save_answer(writer, report, unit_a, "Dự thảo trả lời.", [], submit=True)

    def file_of(report: Report) -> Attachment:
        item = Attachment(report=report, filename="a.pdf", stored_name=f"test-{report.code}.pdf",
                          content_type="application/pdf", size=8)
        session.add(item)
        return item

    viewed = processing_report(published=False)
    to_accept = make_report(status="pending", published=False)
    to_assign = make_report(status="accepted", published=False)
    to_correct = processing_report(published=False)
    to_answer = processing_report(published=False)
    answer = pending_answer()
    answer.report.published = False
    private_file = file_of(processing_report(published=False))
    session.commit()
    from webapp.reports.uploads import upload_dir

    (upload_dir() / private_file.stored_name).write_bytes(b"%PDF-1.4")

    kind, _, position = role.partition("_")
    if role == "anonymous":
        c = app.test_client()
    elif role == "citizen":
        c = app.test_client()
        otp_login("0912444555", c=c)
    elif role == "admin":
        c = staff_login(make_staff("adm-m", "admin"))
    else:
        target = {"intake": None, "a": unit_a, "b": unit_b}[kind]
        name = f"{kind}-{position}-m"
        user = make_staff(name, position) if target is None else make_staff(name, position, unit=target.slug)
        c = staff_login(user)

    results = (
        c.get(f"/can-bo/pakn/{viewed.code}").status_code,
        c.post(f"/can-bo/pakn/{to_accept.code}/tiep-nhan", data={"accept-publish": "y"}).status_code,
        c.post(f"/can-bo/pakn/{to_assign.code}/phan-cong", data={"assign-units": [str(unit_a.id)]}).status_code,
        c.post(f"/can-bo/pakn/{to_correct.code}/sua", data={"correct-field": "moi-truong",
                                                            "correct-ward": "25708"}).status_code,
        c.post(f"/can-bo/pakn/{to_answer.code}/tra-loi", data={"answer-unit": str(unit_a.id),
                                                               "answer-text": "Trả lời.", "action": "save"}).status_code,
        c.post(f"/can-bo/tra-loi/{answer.id}/duyet").status_code,
        c.get(f"/tep/{private_file.id}").status_code,
    )
    assert dict(zip(ACTIONS, results, strict=True)) == dict(zip(ACTIONS, MATRIX[role], strict=True))
    # What was refused changed nothing.
    session.expire_all()
    done = {a: code == 302 and role != "anonymous" for a, code in zip(ACTIONS, MATRIX[role], strict=True)}
    assert (session.get(Report, to_accept.id).status == "accepted") == done["accept"]
    assert (len(session.get(Report, to_assign.id).assignments) == 1) == done["assign"]
    assert (session.get(Answer, answer.id).state == "approved") == done["approve"]
