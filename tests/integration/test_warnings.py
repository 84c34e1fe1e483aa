"""Warnings: created by an officer, approved by a leader of the same unit, public only inside
their window; permission by role and unit, including direct access by id."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.auth.models import Membership, Role, Unit
from webapp.warnings.models import PublicWarning

PASSWORD = "Mat-khau-rat-kho-2026"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def other_unit_leader(session, make_staff):
    leader = make_staff("lanhdao-khac", "leader")
    other = Unit(name="Sở Xây dựng", slug="so-xay-dung")
    role = session.scalar(select(Role).where(Role.name == "leader"))
    leader.memberships = [Membership(unit=other, role=role)]
    session.flush()
    return leader


def local(clock, hours: float) -> str:
    """A datetime-local value (Vietnam time) ``hours`` from the test clock."""
    from zoneinfo import ZoneInfo

    return (clock.now + timedelta(hours=hours)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m-%dT%H:%M")


def create(client, clock, session, **overrides):
    unit = session.scalar(select(Unit).where(Unit.slug == "tiep-nhan"))
    data = {"unit": unit.id, "title": "Triều cường dâng cao chiều nay", "content": "Người dân tránh khu vực ven sông.",
            "level": "danger", "whole_province": "y", "starts_at": local(clock, -1), "ends_at": local(clock, 5)}
    data.update(overrides)
    return client.post("/can-bo/canh-bao/moi", data=data)


def public_views(app):
    c = app.test_client()
    return (text(c.get("/")), text(c.get("/canh-bao")), c.get("/api/v1/warnings/active").get_json(),
            text(c.get("/canh-bao/feed.atom")))


def test_officer_creates_leader_approves_and_it_shows_everywhere(app, session, clock, make_staff, staff_login):
    officer = staff_login(make_staff("canbo-cb", "officer"))
    response = create(officer, clock, session)
    assert response.status_code == 302
    warning = session.scalar(select(PublicWarning))
    assert warning.state == "pending"
    home, page, api, feed = public_views(app)
    assert "Triều cường" not in home and "Triều cường" not in page and api == []
    assert officer.post(f"/can-bo/canh-bao/{warning.id}/duyet").status_code == 403  # officers cannot approve

    leader = staff_login(make_staff("lanhdao-cb", "leader"))
    assert "Chờ duyệt" in text(leader.get("/can-bo/canh-bao"))
    leader.post(f"/can-bo/canh-bao/{warning.id}/duyet")
    session.refresh(warning)
    assert warning.state == "approved"
    home, page, api, feed = public_views(app)
    assert "Triều cường dâng cao chiều nay" in home.split("warning-banner")[1]
    assert "Triều cường dâng cao chiều nay" in page
    assert api == [{"id": warning.id, "title": "Triều cường dâng cao chiều nay",
                    "content": "Người dân tránh khu vực ven sông.", "level": "danger", "regions": [],
                    "whole_province": True, "starts_at": warning.starts_at.isoformat(),
                    "ends_at": warning.ends_at.isoformat(), "unit": "Bộ phận tiếp nhận"}]
    entries = ET.fromstring(feed).findall("{http://www.w3.org/2005/Atom}entry")  # noqa: S314 - our own feed
    assert [e.find("{http://www.w3.org/2005/Atom}title").text for e in entries] == ["Triều cường dâng cao chiều nay"]


def test_visibility_before_during_and_after_the_window(app, session, clock, make_staff, staff_login):
    officer = staff_login(make_staff("canbo-w", "officer"))
    create(officer, clock, session, starts_at=local(clock, 2), ends_at=local(clock, 4))
    leader = staff_login(make_staff("lanhdao-w", "leader"))
    warning = session.scalar(select(PublicWarning))
    leader.post(f"/can-bo/canh-bao/{warning.id}/duyet")
    c = app.test_client()
    assert c.get("/api/v1/warnings/active").get_json() == []        # approved, not yet started
    clock.advance(hours=2, minutes=1)
    assert len(c.get("/api/v1/warnings/active").get_json()) == 1    # inside the window
    clock.advance(hours=2)
    assert c.get("/api/v1/warnings/active").get_json() == []        # ended
    assert "Triều cường" in text(c.get("/canh-bao")).split("hết hiệu lực")[1]  # archived


def test_rejection_needs_a_reason_and_editing_an_approved_warning_sends_it_back(app, session, clock, make_staff, staff_login):
    officer = staff_login(make_staff("canbo-r", "officer"))
    leader = staff_login(make_staff("lanhdao-r", "leader"))
    create(officer, clock, session)
    warning = session.scalar(select(PublicWarning))
    leader.post(f"/can-bo/canh-bao/{warning.id}/tu-choi", data={"reason": ""})
    session.refresh(warning)
    assert warning.state == "pending"
    leader.post(f"/can-bo/canh-bao/{warning.id}/tu-choi", data={"reason": "Nội dung chưa rõ khu vực"})
    session.refresh(warning)
    assert warning.state == "rejected" and warning.reject_reason == "Nội dung chưa rõ khu vực"
    assert "Nội dung chưa rõ khu vực" in text(officer.get("/can-bo/canh-bao"))
    unit = session.scalar(select(Unit).where(Unit.slug == "tiep-nhan"))
    officer.post(f"/can-bo/canh-bao/{warning.id}/sua", data={
        "unit": unit.id, "title": "Triều cường tại phường Trảng Bàng", "content": "Tránh khu vực ven sông.",
        "level": "warning", "wards": ["25708"], "starts_at": local(clock, -1), "ends_at": local(clock, 5)})
    session.refresh(warning)
    assert warning.state == "pending" and [r.code for r in warning.regions] == [25708]
    leader.post(f"/can-bo/canh-bao/{warning.id}/duyet")
    officer.post(f"/can-bo/canh-bao/{warning.id}/sua", data={
        "unit": unit.id, "title": "Triều cường (cập nhật)", "content": "Tránh khu vực ven sông.",
        "level": "warning", "wards": ["25708"], "starts_at": local(clock, -1), "ends_at": local(clock, 5)})
    session.refresh(warning)
    assert warning.state == "pending"
    assert app.test_client().get("/api/v1/warnings/active").get_json() == []  # hidden until approved again


@pytest.mark.parametrize(("overrides", "message"), [
    ({"ends_at": "__before__"}, "kết thúc phải sau"),
    ({"starts_at": ""}, "thời điểm bắt đầu"),
    ({"ends_at": ""}, "thời điểm kết thúc"),
    ({"title": ""}, "tiêu đề cảnh báo"),
    ({"whole_province": None}, "Chọn xã, phường áp dụng"),
])
def test_bad_warning_input(session, clock, make_staff, staff_login, overrides, message):
    officer = staff_login(make_staff("canbo-v", "officer"))
    if overrides.get("ends_at") == "__before__":
        overrides["ends_at"] = local(clock, -2)
    if "whole_province" in overrides and overrides["whole_province"] is None:
        overrides = {}
        response = officer.post("/can-bo/canh-bao/moi", data={
            "unit": session.scalar(select(Unit).where(Unit.slug == "tiep-nhan")).id, "title": "Tiêu đề",
            "content": "Nội dung", "level": "info", "starts_at": local(clock, 1), "ends_at": local(clock, 2)})
    else:
        response = create(officer, clock, session, **overrides)
    assert response.status_code == 400 and message in text(response)
    assert session.scalar(select(PublicWarning)) is None


def test_another_unit_cannot_see_edit_or_approve_by_id(app, session, clock, make_staff, staff_login, other_unit_leader):
    officer = staff_login(make_staff("canbo-u", "officer"))
    create(officer, clock, session)
    warning = session.scalar(select(PublicWarning))
    outsider = staff_login(other_unit_leader)
    assert "Triều cường" not in text(outsider.get("/can-bo/canh-bao"))
    assert outsider.get(f"/can-bo/canh-bao/{warning.id}/sua").status_code == 404
    assert outsider.post(f"/can-bo/canh-bao/{warning.id}/duyet").status_code == 404
    session.refresh(warning)
    assert warning.state == "pending"


def test_citizens_and_visitors_cannot_reach_the_staff_pages(app, client, otp_login):
    assert app.test_client().get("/can-bo/canh-bao").status_code == 302
    otp_login("0912345678")
    assert client.get("/can-bo/canh-bao").status_code == 403
    assert client.post("/can-bo/canh-bao/1/duyet").status_code == 403
