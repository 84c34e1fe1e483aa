"""Demo data: realistic, covers every status, deterministic for a seed."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from webapp.auth.models import User
from webapp.demo.seed import DEMO_STAFF, seed
from webapp.reports.models import Report, Status
from webapp.reports.transfer import export_file


def test_seed_creates_staff_and_varied_reports(session, app):
    seed(count=300, seed_value=7, echo=lambda _: None)
    reports = session.scalars(select(Report)).all()
    assert len(reports) == 300
    statuses = Counter(r.status for r in reports)
    assert set(statuses) == {s.value for s in Status}
    assert {r.type for r in reports} == {"pakn", "idea"}
    assert any(r.confidential for r in reports) and any(not r.confidential for r in reports)
    assert any(r.sender_kind == "organization" and r.organization_name for r in reports)
    assert len({r.field_id for r in reports}) == 13
    assert all(r.province_code == 80 for r in reports if r.ward_code)
    years = {r.submitted_at.year for r in reports}
    assert len(years) >= 3
    answered = [r for r in reports if r.status in ("answered", "closed")]
    assert answered and all(r.answers for r in answered)
    assert any(r.published_answer for r in answered)
    assert not any(r.published for r in reports if r.status == "pending")
    for r in reports:  # timeline ends where the report is
        assert r.events[-1].to_status == r.status
    for username, _, role, password, _unit in DEMO_STAFF:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None and user.is_active and user.has_role(role)
        assert check_password_hash(user.password_hash, password)
    # Reports in processing are assigned with a deadline, so the processing unit's staff see them.
    processing = [r for r in reports if r.status == "processing"]
    assert processing and all(r.assignments and r.deadline_at for r in processing)
    xuly = session.scalar(select(User).where(User.username == "xuly"))
    from webapp.workflow.services import can_view, is_intake

    assert not is_intake(xuly)
    assert any(can_view(xuly, r) for r in processing)


def test_seed_if_empty_leaves_an_existing_database_alone(session, app):
    seed(count=5, seed_value=1, echo=lambda _: None)
    assert seed(count=5, seed_value=1, if_empty=True, echo=lambda _: None) == 0
    assert session.scalar(select(func.count()).select_from(Report)) == 5


def test_same_seed_gives_the_same_data(fresh_app, tmp_path):
    outputs = []
    for name in ("a", "b"):
        app = fresh_app()
        with app.app_context():
            seed(count=60, seed_value=42, echo=lambda _: None)
            path = tmp_path / f"{name}.jsonl"
            export_file(path)
            outputs.append(path.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]


def test_seed_demo_command_prints_the_demo_accounts(cli):
    result = cli.invoke(args=["seed-demo", "--reports", "3", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "canbo / canbo-demo-2026" in result.stdout
    assert "Đã tạo 3 phản ánh" in result.stdout


def test_zero_demo_reports_seeds_nothing_not_even_demo_accounts(session, app):
    assert seed(count=0, echo=lambda _: None) == 0
    assert session.scalar(select(func.count()).select_from(User)) == 0
    assert session.scalar(select(func.count()).select_from(Report)) == 0
