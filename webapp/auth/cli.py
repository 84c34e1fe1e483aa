"""``flask users …``: staff accounts, unlocking numbers, signing a user out everywhere."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import or_, select

from indexer.text import fold, normalize_phone
from webapp.auth import throttle
from webapp.auth.models import Membership, Role, RoleName, Unit, User, UserKind, UserStatus
from webapp.auth.services import (
    audit,
    find_any_account,
    hash_password,
    password_problem,
    revoke_all_sessions,
    unlock_phone,
)
from webapp.extensions import db

users_cli = AppGroup("users", help="Tài khoản: tạo cán bộ, mở khóa số và tài khoản, đăng xuất mọi phiên.")


@users_cli.command("create-staff")
@click.option("--username", required=True)
@click.option("--unit", required=True, help="Unit slug or exact name (created if it does not exist).")
@click.option("--role", required=True, type=click.Choice(["officer", "leader", "admin"]))
@click.option("--full-name", default="", help="Display name.")
@click.option("--password", default=None, help="Prompted (hidden, twice) when not given.")
def create_staff(username: str, unit: str, role: str, full_name: str, password: str | None) -> None:
    """Create a staff account with a role in a unit (every staff account enrols TOTP at first login)."""

    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        click.echo(f"Lỗi: tên đăng nhập '{username}' đã tồn tại.", err=True)
        sys.exit(1)
    if password is None:
        password = click.prompt("Mật khẩu", hide_input=True, confirmation_prompt="Nhập lại mật khẩu")
    problem = password_problem(password, (username, *full_name.split()))
    if problem:
        click.echo(f"Lỗi: {problem}", err=True)
        sys.exit(1)
    found = db.session.scalar(select(Unit).where(or_(Unit.slug == unit, Unit.name == unit)))
    if found is None:
        found = Unit(name=unit, slug="-".join(fold(unit).split())[:90])
        db.session.add(found)
        click.echo(f"Đã tạo đơn vị mới: {unit}")
    roles = {r.name: r for r in db.session.scalars(select(Role))}
    user = User(username=username, full_name=full_name or username, kind=UserKind.STAFF,
                status=UserStatus.ACTIVE, password_hash=hash_password(password))
    if role == RoleName.ADMIN:
        user.roles.append(roles[RoleName.ADMIN])
    user.memberships.append(Membership(unit=found, role=roles[role if role != RoleName.ADMIN else RoleName.LEADER]))
    db.session.add(user)
    db.session.flush()
    audit("staff_created", user=user, detail=f"{role}@{found.slug}")
    db.session.commit()
    click.echo(f"Đã tạo tài khoản cán bộ {username} ({role}, {found.name}).")


@users_cli.command("unlock-phone")
@click.argument("phone")
def unlock_phone_command(phone: str) -> None:
    """Unlock a number locked after too many wrong codes."""

    normalized = normalize_phone(phone)
    if normalized is None:
        click.echo("Lỗi: số điện thoại không hợp lệ.", err=True)
        sys.exit(1)
    if unlock_phone(normalized, None):
        db.session.commit()
        click.echo("Đã mở khóa.")
    else:
        click.echo("Số này không bị khóa.")


@users_cli.command("unlock")
@click.argument("login")
def unlock_account(login: str) -> None:
    """Unlock an account locked after too many wrong passwords/TOTP codes (username, phone or email)."""

    user = find_any_account(login)
    if user is None:
        click.echo("Lỗi: không tìm thấy tài khoản.", err=True)
        sys.exit(1)
    if throttle.unlock(user):
        audit("account_unlocked", user=user)
        db.session.commit()
        click.echo("Đã mở khóa tài khoản.")
    else:
        click.echo("Tài khoản này không bị khóa.")


@users_cli.command("sign-out-everywhere")
@click.argument("login")
def sign_out_everywhere(login: str) -> None:
    """End every session of a user (username, phone or email)."""

    user = find_any_account(login)
    if user is None:
        click.echo("Lỗi: không tìm thấy tài khoản.", err=True)
        sys.exit(1)
    count = revoke_all_sessions(user, None)
    db.session.commit()
    click.echo(f"Đã kết thúc {count} phiên đăng nhập.")
