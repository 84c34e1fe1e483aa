"""Per-account throttling of password and TOTP steps (issue: 20 guesses per minute per IP, and the
next IP went on at once; 62 wrong TOTP codes from 41 IPs and the right one still worked; the same
TOTP code logged in twice; the password step stayed usable after the login)."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

PASSWORD = "Mat-khau-rat-kho-2026"


def text(response) -> str:
    return response.get_data(as_text=True)


def from_ip(n: int) -> dict:
    return {"REMOTE_ADDR": f"203.0.113.{n % 250 + 1}"}


def staff_password(client, username: str, password: str, n: int):
    return client.post("/can-bo/dang-nhap", data={"username": username, "password": password},
                       environ_base=from_ip(n))


@pytest.fixture
def officer(session, make_staff, clock):
    user = make_staff("canbo-thu", "officer")
    user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), clock.now
    session.flush()
    return user


def test_password_guesses_from_many_ips_slow_down_then_lock_the_account(app, officer, clock, cli):
    guesser = app.test_client()
    for n in range(5):  # five free failures, each from another address
        assert "không đúng" in text(staff_password(guesser, "canbo-thu", f"sai-{n}", n))
    refused = staff_password(guesser, "canbo-thu", "sai-5", 6)
    assert refused.status_code == 429 and "đợi" in text(refused)
    # The right password from a fresh address and browser is refused too while the delay runs.
    owner = app.test_client()
    assert staff_password(owner, "canbo-thu", PASSWORD, 99).status_code == 429
    clock.advance(seconds=2)
    failures = 5
    while failures < 20:  # keep guessing, waiting out each delay: the lock comes at 20
        response = staff_password(guesser, "canbo-thu", f"sai-{failures}", failures)
        if response.status_code == 429:
            clock.advance(seconds=301)
            continue
        failures += 1
    locked = staff_password(owner, "canbo-thu", PASSWORD, 120)
    assert locked.status_code == 429 and "tạm khóa" in text(locked)
    clock.advance(minutes=61)  # the cool-down ends; the owner gets in (then the TOTP step)
    response = staff_password(owner, "canbo-thu", PASSWORD, 121)
    assert response.status_code == 302 and response.headers["Location"].endswith("/can-bo/xac-thuc")


def test_at_100_failures_only_an_administrator_unlocks(app, session, officer, clock, cli):
    from webapp.auth.models import AccountGuard

    guard = AccountGuard(key=f"user:{officer.id}", consecutive_failures=100, last_failure_at=clock.now)
    session.add(guard)
    session.flush()
    clock.advance(hours=48)
    owner = app.test_client()
    response = staff_password(owner, "canbo-thu", PASSWORD, 1)
    assert response.status_code == 429 and "quản trị viên" in text(response)
    result = cli.invoke(args=["users", "unlock", "canbo-thu"])
    assert result.exit_code == 0 and "Đã mở khóa" in result.output
    assert staff_password(owner, "canbo-thu", PASSWORD, 2).status_code == 302


def test_unknown_names_are_throttled_like_accounts(app, session):
    """The answer must not tell an existing account from a name nobody has."""
    guesser = app.test_client()
    answers = [staff_password(guesser, "khong-ai-co-ten-nay", "sai", n).status_code for n in range(7)]
    assert answers == [200] * 5 + [429, 429]


def test_wrong_totp_codes_from_many_ips_lock_the_login(app, officer, clock):
    guesser = app.test_client()
    assert staff_password(guesser, "canbo-thu", PASSWORD, 0).status_code == 302
    statuses = []
    for n in range(62):
        statuses.append(guesser.post("/can-bo/xac-thuc", data={"code": f"{n:06d}"}, environ_base=from_ip(n)).status_code)
        clock.advance(seconds=1)
        if n % 10 == 9:  # keep the pending password step alive for the test (5 minutes)
            staff_password(guesser, "canbo-thu", PASSWORD, n)
    assert 429 in statuses
    right = guesser.post("/can-bo/xac-thuc", data={"code": pyotp.TOTP(officer.totp_secret).at(clock.now)})
    assert right.status_code == 429  # the right code no longer opens the account
    assert guesser.get("/can-bo/").status_code == 302


def test_a_totp_code_is_accepted_once(app, officer, clock):
    code = pyotp.TOTP(officer.totp_secret).at(clock.now)
    first = app.test_client()
    staff_password(first, "canbo-thu", PASSWORD, 1)
    first.post("/can-bo/xac-thuc", data={"code": code})
    assert first.get("/can-bo/").status_code == 200
    second = app.test_client()  # someone who saw the code over the officer's shoulder
    staff_password(second, "canbo-thu", PASSWORD, 2)
    replay = second.post("/can-bo/xac-thuc", data={"code": code})
    assert "không đúng" in text(replay) and second.get("/can-bo/").status_code == 302
    clock.advance(seconds=30)
    second.post("/can-bo/xac-thuc", data={"code": pyotp.TOTP(officer.totp_secret).at(clock.now)})
    assert second.get("/can-bo/").status_code == 200


def test_the_password_step_ends_when_the_login_succeeds(app, officer, clock):
    client = app.test_client()
    staff_password(client, "canbo-thu", PASSWORD, 1)
    client.post("/can-bo/xac-thuc", data={"code": pyotp.TOTP(officer.totp_secret).at(clock.now)})
    assert client.get("/can-bo/").status_code == 200
    client.post("/can-bo/dang-xuat")
    # The same browser cannot use the earlier password step for a second login.
    clock.advance(seconds=30)
    response = client.get("/can-bo/xac-thuc")
    assert response.status_code == 302 and response.headers["Location"].endswith("/can-bo/dang-nhap")


def test_every_staff_role_needs_the_second_factor(session, make_staff):
    for role in ("officer", "leader", "admin"):
        assert make_staff(f"u-{role}", role).needs_second_factor


def test_citizen_password_guessing_is_throttled_per_account(app, session, clock):
    from webapp.auth.models import User, UserKind, UserStatus
    from webapp.auth.services import hash_password

    session.add(User(phone="0912000111", email="dan@example.vn", full_name="Dân", kind=UserKind.CITIZEN,
                     status=UserStatus.ACTIVE, password_hash=hash_password(PASSWORD), phone_verified_at=clock.now))
    session.flush()
    guesser = app.test_client()
    statuses = [guesser.post("/dang-nhap/mat-khau", data={"login": "dan@example.vn", "password": f"sai{n}"},
                             environ_base=from_ip(n)).status_code for n in range(6)]
    assert statuses == [200] * 5 + [429]
    owner = app.test_client()
    assert owner.post("/dang-nhap/mat-khau", data={"login": "0912 000 111", "password": PASSWORD}).status_code == 429
    clock.advance(seconds=2)
    assert owner.post("/dang-nhap/mat-khau", data={"login": "0912 000 111", "password": PASSWORD}).status_code == 302
    from webapp.auth.models import AccountGuard

    assert session.scalar(select(AccountGuard)) is None  # a success starts the count again
