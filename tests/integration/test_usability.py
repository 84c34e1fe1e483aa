"""Issue 16 (what users trip over): codes in search boxes, Tra cứu mã's answer, staff actions per
state, separate phone search, answer-template placeholders, forms and wording, no "None"."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from webapp.auth.models import Unit


def text(response) -> str:
    return response.get_data(as_text=True)


def variants(code: str) -> list[str]:
    """How people paste a code: lower case, without the dash, with spaces around."""
    return [code, code.lower(), code.replace("-", ""), f"  {code.lower()}  ", code.replace("-", " ")]


# -- 1. a tracking code in a search box -----------------------------------------------------------
def test_public_search_with_a_published_code_opens_the_report(client, make_report, search):
    report = make_report(title="Đèn đường hỏng trước trường học")
    search.index()
    for typed in variants(report.code):
        response = client.get("/tra-cuu", query_string={"q": typed})
        assert response.status_code == 302, typed
        assert response.headers["Location"].endswith(f"/pakn/{report.code}")


def test_public_search_with_an_unpublished_code_says_so_and_points_to_the_lookup(client, make_report, search):
    report = make_report(published=False, status="pending")
    search.index()
    response = client.get("/tra-cuu", query_string={"q": report.code.lower()})
    html = text(response)
    assert response.status_code == 200
    assert f"Mã {report.code} không phải mã của một phản ánh đã công khai" in html
    assert f'/tra-cuu-ma?code={report.code}' in html
    assert report.title not in html
    # The lookup form comes with the code filled in.
    assert f'value="{report.code}"' in text(client.get(f"/tra-cuu-ma?code={report.code.lower()}"))


def test_api_search_answers_a_code_as_the_single_result(client, make_report, search):
    report = make_report(title="Rác thải chưa được thu gom")
    make_report(title="Một phản ánh khác")
    hidden = make_report(published=False, status="pending")
    search.index()
    for typed in variants(report.code):
        body = client.get("/api/v1/reports", query_string={"q": typed}).get_json()
        assert body["total"] == 1 and [i["code"] for i in body["items"]] == [report.code], typed
    body = client.post("/api/v1/reports/search", json={"q": report.code.lower()}).get_json()
    assert [i["code"] for i in body["items"]] == [report.code]
    body = client.get("/api/v1/reports", query_string={"q": hidden.code}).get_json()
    assert body["total"] == 0 and body["items"] == []


def test_staff_inbox_with_a_code_opens_the_report_only_in_scope(session, make_report, make_staff, staff_login, search):
    report = make_report(status="pending", published=False)
    search.index()
    intake = staff_login(make_staff("tn-ma", "officer"))
    for typed in variants(report.code):
        response = intake.get("/can-bo/hop-thu", query_string={"q": typed})
        assert response.status_code == 302, typed
        assert response.headers["Location"].endswith(f"/can-bo/pakn/{report.code}")
    # An officer of a unit the report is not assigned to is not sent there (and learns nothing).
    other = staff_login(make_staff("xa-ma", "officer", unit="don-vi-khac"))
    response = other.get("/can-bo/hop-thu", query_string={"q": report.code})
    assert response.status_code == 200 and report.title not in text(response)


# -- 2. Tra cứu mã shows the answer -------------------------------------------------------------------
def answered(session, report, text="Đã nạo vét toàn bộ cống thoát nước trước chợ.", draft=None):
    from datetime import UTC, datetime

    from webapp.reports.models import Answer, Attachment

    unit = Unit(name="Sở Xây dựng Tây Ninh", slug=f"so-xd-{report.id}")
    at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
    if draft:
        report.answers.append(Answer(unit=unit, text=draft, state="pending_approval", answered_at=at))
    answer = Answer(unit=unit, text=text, state="approved", answered_at=at, published_at=at)
    report.answers.append(answer)
    session.flush()
    session.add(Attachment(report=report, answer=answer, filename="bien-ban-nghiem-thu.pdf",
                           stored_name=f"a-{report.id}", content_type="application/pdf", size=1))
    report.status = "answered"
    session.flush()
    return answer


@pytest.mark.parametrize("published", [True, False])
def test_lookup_shows_the_answer_with_unit_date_files_and_the_public_link(client, session, make_report, published):
    report = make_report(sender_phone="0912345678", published=published)
    answered(session, report, draft="Bản nháp chưa duyệt")
    html = text(client.post("/tra-cuu-ma", data={"code": report.code.lower(), "phone": "0912 345 678"}))
    assert "Đã trả lời" in html and report.title in html
    assert "Đã nạo vét toàn bộ cống thoát nước trước chợ." in html
    assert "Sở Xây dựng Tây Ninh · 25/11/2026" in html
    assert "Bản nháp chưa duyệt" not in html
    assert ("bien-ban-nghiem-thu.pdf" in html) is published  # a file only where the visitor may open it
    assert (f'href="/pakn/{report.code}"' in html) is published


def test_lookup_without_an_answer_says_so(client, make_report):
    report = make_report(sender_phone="0912345678")
    html = text(client.post("/tra-cuu-ma", data={"code": report.code, "phone": "0912345678"}))
    assert "Chưa có trả lời." in html and f'href="/pakn/{report.code}"' in html


# -- 3. the staff page shows each state's actions only -------------------------------------------------
def test_a_draft_sent_for_approval_is_read_only_until_the_leader_decides(session, make_report, make_staff,
                                                                          staff_login, clock):
    from webapp.workflow import services

    report = make_report(status="pending", published=False)
    intake = make_staff("tn-3", "officer")
    officer = make_staff("a-3", "officer", unit="so-xd-3")
    leader = make_staff("l-3", "leader", unit="so-xd-3")
    unit = session.scalar(select(Unit).where(Unit.slug == "so-xd-3"))
    services.accept(intake, report, publish=True)
    services.assign(intake, report, [unit])
    session.commit()
    page = staff_login(officer)
    html = text(page.get(f"/can-bo/pakn/{report.code}"))
    assert "Soạn trả lời" in html and "Gửi lãnh đạo duyệt" in html
    assert "Tiếp nhận</button>" not in html  # intake's actions are not the unit's

    response = page.post(f"/can-bo/pakn/{report.code}/tra-loi", data={
        "answer-unit": str(unit.id), "answer-text": "Đơn vị đã kiểm tra hiện trường.", "action": "submit"})
    assert response.status_code == 302
    html = text(page.get(f"/can-bo/pakn/{report.code}"))
    assert "Đang chờ lãnh đạo duyệt" in html and "Đơn vị đã kiểm tra hiện trường." in html
    assert "Soạn trả lời" not in html and "Lưu nháp" not in html and "Gửi lãnh đạo duyệt</button>" not in html

    # Returned by the leader: the unit may write again, starting from its text.
    answer = report.answers[-1]
    services.return_answer(leader, answer, "Bổ sung thời gian hoàn thành.")
    session.commit()
    html = text(page.get(f"/can-bo/pakn/{report.code}"))
    assert "Soạn trả lời" in html and "Đang chờ lãnh đạo duyệt" not in html


def test_an_answered_report_offers_closing_not_answering(session, make_report, make_staff, staff_login):
    report = make_report(status="answered")
    answered(session, report)
    html = text(staff_login(make_staff("tn-4", "officer")).get(f"/can-bo/pakn/{report.code}"))
    assert "Đóng phản ánh" in html
    assert "Soạn trả lời" not in html and "Phân công</button>" not in html and "Tiếp nhận</button>" not in html


# -- 4. phone search and text search are separate ----------------------------------------------------
def test_the_phone_form_does_not_carry_the_text_search(client, make_report, search):
    make_report(title="Đèn đường hỏng", sender_phone="0906380395")
    search.index()
    html = text(client.get("/tra-cuu", query_string={"q": "xyzkhongcogi"}))
    start = html.index('class="phone-form')
    phone_form = html[start:html.index("</form>", start)]
    assert "xyzkhongcogi" not in phone_form and 'name="q"' not in phone_form
    # What the browser then sends: the phone alone, which finds the report, shown as a removable chip.
    html = text(client.post("/tra-cuu", data={"phone": "0906 380 395"}))
    assert "Đèn đường hỏng" in html
    assert "số điện thoại 090*****95" in html
    assert re.search(r'<li class="chip">Tìm theo số điện thoại <a href="/tra-cuu" '
                     r'aria-label="Bỏ điều kiện: Tìm theo số điện thoại">×</a></li>', html)


def test_a_combined_search_shows_every_condition(client, make_report, search):
    make_report(title="Đèn đường hỏng", sender_phone="0906380395")
    search.index()
    html = text(client.post("/tra-cuu", data={"phone": "0906380395", "q": "xyzkhongcogi"}))
    assert "Từ khóa: xyzkhongcogi" in html and "Tìm theo số điện thoại" in html


# -- 8. the pager has previous and next -----------------------------------------------------------------
def test_the_pager_has_previous_and_next(client, make_report, search):
    for i in range(5):
        make_report(title=f"Ngập nước điểm {i}")
    search.index()
    html = text(client.get("/tra-cuu", query_string={"q": "ngập", "per_page": 2, "page": 2}))
    assert re.search(r'<a href="[^"]*page=1[^"]*" rel="prev">← Trước</a>', html)
    assert re.search(r'<a href="[^"]*page=3[^"]*" rel="next">Sau →</a>', html)
    html = text(client.post("/tra-cuu", data={"phone": "0912345678", "per_page": 2, "page": 2}))
    assert "← Trước</button>" in html and "Sau →</button>" in html


# -- 5. answer templates with placeholders ---------------------------------------------------------------
def test_a_template_is_filled_from_the_report_and_the_answering_unit(session, make_report, make_staff, staff_login):
    from datetime import UTC, datetime

    from webapp.reference.models import Field
    from webapp.reports.models import AnswerTemplate
    from webapp.workflow import services

    report = make_report(status="pending", published=False, submitted_at=datetime(2026, 11, 19, 18, 30, tzinfo=UTC))
    intake = make_staff("tn-5", "officer")
    officer = make_staff("a-5", "officer", unit="so-xd-5")
    unit = session.scalar(select(Unit).where(Unit.slug == "so-xd-5"))
    services.accept(intake, report, publish=True)
    services.assign(intake, report, [unit])
    field = session.scalar(select(Field).where(Field.slug == "giao-thong"))
    template = AnswerTemplate(field=field, title="Đã khắc phục",
                              text="{don_vi} đã tiếp nhận phản ánh {ma_phan_anh} ngày {ngay_tiep_nhan}.")
    session.add(template)
    session.commit()
    html = text(staff_login(officer).get(f"/can-bo/pakn/{report.code}?mau={template.id}"))
    # 18:30 UTC on the 19th is the 20th in Vietnam.
    assert f"Đơn vị so-xd-5 đã tiếp nhận phản ánh {report.code} ngày 20/11/2026." in html
    assert "{don_vi}" not in html


@pytest.mark.parametrize("bad, message", [
    ("{ten_don_vi} đã tiếp nhận.", "{ten_don_vi}"),
    ("{don_vi.__class__} đã tiếp nhận.", "{don_vi.__class__}"),
    ("Đơn vị { đã tiếp nhận.", "Dấu ngoặc nhọn"),
])
def test_unknown_placeholders_are_refused_when_the_template_is_saved(session, make_staff, staff_login, bad, message):
    from webapp.reports.models import AnswerTemplate

    leader = staff_login(make_staff("l-5", "leader", unit="so-xd-6"))
    response = leader.post("/can-bo/mau-tra-loi", data={"field": "giao-thong", "title": "Mẫu sai", "text": bad})
    assert response.status_code == 400
    html = text(response)
    assert message in html and "{don_vi}" in html  # what is wrong and what may be used
    assert session.scalar(select(AnswerTemplate).where(AnswerTemplate.title == "Mẫu sai")) is None
    response = leader.post("/can-bo/mau-tra-loi", data={"field": "giao-thong", "title": "Mẫu đúng",
                                                         "text": "{don_vi} trả lời phản ánh {ma_phan_anh}."})
    assert response.status_code == 302


# -- 8. rendered pages: no "None", and every "*" is explained ---------------------------------------------
NONE_WORD = re.compile(r"(?<![\w-])None(?![\w-])")


def visible_text(html: str) -> str:
    """The page's text and attribute values a user may see (no script or style)."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return html


def assert_page_is_clean(html: str, path: str) -> None:
    assert not NONE_WORD.search(visible_text(html)), f"{path} shows 'None'"
    if 'class="required"' in html:
        assert "Các thông tin có dấu" in html and "là bắt buộc" in html, f"{path}: '*' without the legend"


def test_pages_never_show_none_and_explain_their_stars(app, client, session, make_report, make_staff, staff_login,
                                                       otp_login, search):
    from webapp.auth.models import User

    report = make_report(address="", sender_email=None, sender_address=None)
    answered(session, report)
    idea = make_report(type="idea", address="", published=True)
    pending = make_report(status="pending", published=False)
    search.index()
    public_paths = ["/", "/tra-cuu", "/tra-cuu?q=ngập", f"/pakn/{report.code}", f"/pakn/{idea.code}", "/canh-bao",
                    "/tra-cuu-ma", "/dang-nhap", "/dang-ky", "/dang-nhap/mat-khau", "/thong-ke", "/can-bo/dang-nhap"]
    for path in public_paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_page_is_clean(text(response), path)
    html = text(client.post("/tra-cuu-ma", data={"code": report.code, "phone": "0912345678"}))
    assert_page_is_clean(html, "/tra-cuu-ma (found)")

    # A citizen from SSO without a name, phone or username (an OTP login, then the account as an SSO
    # provider without those claims leaves it): the header names the account anyway.
    phone = otp_login("0912000888")
    user = session.scalar(select(User).where(User.phone == phone))
    user.full_name, user.phone, user.username, user.email = "", None, None, None
    session.commit()
    for path in ["/", "/gui-phan-anh", "/gui-hien-ke", "/pakn-cua-toi", "/tim-kiem-da-luu",
                 "/tim-kiem-da-luu/moi?q=ngập&field=giao-thong"]:
        response = client.get(path)
        assert response.status_code == 200, path
        html = text(response)
        assert_page_is_clean(html, path)
        assert "Tài khoản của tôi" in html

    staff = staff_login(make_staff("tn-8", "leader"))
    for path in ["/can-bo/", "/can-bo/hop-thu", f"/can-bo/pakn/{pending.code}", f"/can-bo/pakn/{report.code}",
                 "/can-bo/mau-tra-loi", "/can-bo/canh-bao", "/can-bo/canh-bao/moi"]:
        response = staff.get(path)
        assert response.status_code == 200, path
        assert_page_is_clean(text(response), path)


# -- 8. warning levels differ by text, not colour alone -----------------------------------------------------
def test_warning_levels_are_named_in_the_banner_and_the_list(client, session, make_staff):
    from datetime import UTC, datetime, timedelta

    from webapp.warnings.models import PublicWarning, WarningState

    staff = make_staff("tn-w", "leader")
    unit = staff.memberships[0].unit
    now = datetime.now(UTC)
    for level, title in (("danger", "Lũ quét đầu nguồn sông Vàm Cỏ"), ("info", "Lịch cắt nước định kỳ")):
        session.add(PublicWarning(unit=unit, title=title, content="Người dân chú ý.", level=level,
                                  whole_province=True, starts_at=now - timedelta(hours=1),
                                  ends_at=now + timedelta(hours=5), state=WarningState.APPROVED,
                                  created_by_id=staff.id, approved_by_id=staff.id))
    session.commit()
    home = text(client.get("/"))
    assert re.search(r'<strong class="level-badge level-danger">Khẩn cấp</strong> <a [^>]*>Lũ quét', home)
    assert re.search(r'<strong class="level-badge level-info">Thông tin</strong> <a [^>]*>Lịch cắt nước', home)
    listing = text(client.get("/canh-bao"))
    assert re.search(r'class="badge level-badge level-danger">.*Khẩn cấp</span>', listing)
    assert re.search(r'class="badge level-badge level-info">.*Thông tin</span>', listing)


# -- 8. wording per type -----------------------------------------------------------------------------------------
def test_the_idea_form_and_its_sent_page_speak_of_ideas(client, otp_login, session, make_report):
    from webapp.auth.models import User

    phone = otp_login("0912000999")
    user = session.scalar(select(User).where(User.phone == phone))
    html = text(client.get("/gui-hien-ke"))
    assert "hiến kế tương tự" in html and "phản ánh tương tự" not in html
    assert "Các thông tin có dấu" in html
    assert re.search(r'<label for="title">Tiêu đề</label> <span class="required" aria-hidden="true">\*</span>', html)
    assert not re.search(r'<label for="address">[^<]*</label> <span class="required"', html)  # optional for an idea
    assert re.search(r'<label for="address">[^<]*</label> <span class="required"', text(client.get("/gui-phan-anh")))
    idea = make_report(type="idea", user_id=user.id, sender_phone=phone)
    session.commit()
    html = text(client.get(f"/da-gui/{idea.code}"))
    assert "Theo dõi hiến kế" in html and "Theo dõi phản ánh" not in html


# -- 8. the saved-search confirmation quotes once ---------------------------------------------------------------
def test_saving_a_search_quotes_its_name_once(client, otp_login):
    otp_login("0912000444")
    form = text(client.get("/tim-kiem-da-luu/moi?q=ngap+nuoc&field=cap-thoat-nuoc"))
    assert 'value="ngap nuoc · Cấp thoát nước"' in form
    response = client.post("/tim-kiem-da-luu/moi?q=ngap+nuoc&field=cap-thoat-nuoc",
                           data={"name": "ngap nuoc · Cấp thoát nước", "frequency": "none", "email": ""},
                           follow_redirects=True)
    html = text(response)
    assert "Đã lưu tìm kiếm “ngap nuoc · Cấp thoát nước”." in html and "““" not in html
