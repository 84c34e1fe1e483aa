"""Legacy import (JSON Lines and CSV) and export: bad lines reported, good lines kept, idempotent."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.reports.models import Report
from webapp.reports.transfer import CSV_COLUMNS, export_file, import_file
from webapp.search.models import OutboxEntry


def line(**overrides):
    record = {
        "external_id": "cu-0001", "type": "pakn", "title": "Đường ngập nước sau mưa",
        "content": "Đoạn đường trước chợ ngập sâu 40 cm.", "field": "Cấp thoát nước",
        "province": "Tây Ninh", "ward": "Phường Trảng Bàng", "address": "Chợ Trảng Bàng",
        "submitted_at": "2023-05-01T08:30:00+07:00",
        "sender": {"kind": "individual", "name": "Nguyễn Văn A", "phone": "0166 234 5678",
                   "email": "a@example.vn"},
        "confidential": False, "status": "answered", "published": True,
        "answer": {"unit": "UBND phường Trảng Bàng", "text": "Đã nạo vét cống thoát nước.",
                   "answered_at": "2023-05-10T10:00:00+07:00"},
    }
    for key, value in overrides.items():
        if value is None and key in record:
            del record[key]
        else:
            record[key] = value
    return record


def write_jsonl(path: Path, records) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
            fh.write("\n")
    return path


def reports(session):
    return session.scalars(select(Report).order_by(Report.id)).all()


BAD_LINES = [
    ("{not json", "JSON không hợp lệ"),
    (line(external_id="b1", title=None), "thiếu trường bắt buộc 'title'"),
    (line(external_id="b2", title="   "), "'title' không được để trống"),
    (line(external_id="b3", field="Thể thao"), "lĩnh vực không tồn tại: 'Thể thao'"),
    (line(external_id="b4", submitted_at="01/05/2023"), "'submitted_at' không phải ngày giờ ISO 8601"),
    (line(external_id="b5", submitted_at="2023-05-01T08:30:00"), "'submitted_at' thiếu múi giờ"),
    (line(external_id="b6", sender={"kind": "individual", "phone": "12345"}), "'sender.phone' không phải số điện thoại"),
    (line(external_id="b7", ward="Phường Không Có"), "không tìm thấy xã/phường 'Phường Không Có'"),
    (line(external_id="b8", type="complaint"), "'type' phải là một trong: pakn, idea"),
    (line(external_id="b9", status="đang chờ"), "trạng thái không hợp lệ"),
    (line(external_id="b10", sender={"kind": "organization"}), "thiếu 'sender.organization'"),
    (line(external_id="b11", extra=1), "trường không được khai báo: extra"),
    (line(external_id="b12", answer={"unit": "X", "text": "Y", "answered_at": "2020-01-01T00:00:00+07:00"}), "sớm hơn ngày gửi"),
    (line(external_id="b13", sender={"kind": "individual", "email": "not-an-email"}), "không phải địa chỉ email"),
    ("[1, 2]", "mỗi dòng phải là một đối tượng JSON"),
]


def test_bad_lines_are_listed_with_number_and_reason_and_good_lines_imported(session, tmp_path):
    records = [line(external_id="good-1")]
    records += [bad for bad, _ in BAD_LINES]
    records += [line(external_id="good-2", title="Mất điện kéo dài", field="dien")]
    path = write_jsonl(tmp_path / "mixed.jsonl", records)

    result = import_file(path)

    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert [n for n, _ in result.errors] == list(range(2, 2 + len(BAD_LINES)))
    for (line_no, reason), (_, expected) in zip(result.errors, BAD_LINES, strict=True):
        assert expected in reason, f"line {line_no}: {reason!r} lacks {expected!r}"
    titles = [r.title for r in reports(session)]
    assert titles == ["Đường ngập nước sau mưa", "Mất điện kéo dài"]


def test_imported_values_are_normalized_and_resolved(session, tmp_path):
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Đường ngập nước")
    path = write_jsonl(tmp_path / "one.jsonl", [line(title=decomposed)])
    import_file(path)
    (report,) = reports(session)
    assert report.title == "Đường ngập nước"  # NFC
    assert report.sender_phone == "0362345678"  # 0166 → 036
    assert report.ward_code == 25708 and report.province_code == 80
    assert report.field.slug == "cap-thoat-nuoc"
    assert report.status == "answered" and report.published
    assert report.published_answer.unit.name == "UBND phường Trảng Bàng"
    assert report.code.startswith("PA-")
    assert [e.to_status for e in report.events] == ["answered"]


def test_legacy_place_names_are_kept_and_mapped(session, tmp_path):
    path = write_jsonl(tmp_path / "legacy.jsonl", [
        line(external_id="l1", province=None, ward="Thị xã Trảng Bàng"),
        line(external_id="l2", province="Bình Dương", ward="Thành phố Thủ Dầu Một"),
    ])
    result = import_file(path)
    assert result.errors == []
    first, second = reports(session)
    assert (first.province_code, first.ward_code, first.legacy_place) == (80, None, "Thị xã Trảng Bàng")
    assert (second.province_code, second.legacy_place) == (79, "Thành phố Thủ Dầu Một")
    assert first.place_name == "Thị xã Trảng Bàng, Tây Ninh"


def test_import_is_idempotent_and_a_changed_line_updates_and_bumps_revision(session, tmp_path):
    records = [line(external_id=f"cu-{i}", title=f"Phản ánh số {i}") for i in range(3)]
    path = write_jsonl(tmp_path / "a.jsonl", records)
    first = import_file(path)
    assert first.created == 3
    outbox_after_first = session.scalar(select(func.count()).select_from(OutboxEntry))

    second = import_file(path)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    assert session.scalar(select(func.count()).select_from(OutboxEntry)) == outbox_after_first
    assert [r.revision for r in reports(session)] == [1, 1, 1]

    records[1]["title"] = "Phản ánh số 1 (đã sửa)"
    records[2]["status"] = "closed"
    path = write_jsonl(tmp_path / "b.jsonl", records)
    third = import_file(path)
    assert (third.created, third.updated, third.unchanged) == (0, 2, 1)
    r0, r1, r2 = reports(session)
    assert (r0.revision, r1.revision) == (1, 2) and r2.revision >= 2
    assert r1.title == "Phản ánh số 1 (đã sửa)"
    assert [e.to_status for e in r2.events] == ["answered", "closed"]


def test_duplicate_external_id_in_one_file_is_a_bad_line(session, tmp_path):
    path = write_jsonl(tmp_path / "dup.jsonl", [line(), line(title="khác")])
    result = import_file(path)
    assert result.created == 1
    assert result.errors == [(2, "external_id 'cu-0001' trùng với dòng 1")]


def test_csv_with_the_same_columns_imports(session, tmp_path):
    path = tmp_path / "legacy.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        base = {k: "" for k in CSV_COLUMNS}
        writer.writerow(base | {"external_id": "c1", "type": "idea", "title": "Trồng thêm cây xanh",
                                "content": "Đề xuất trồng cây.", "field": "moi-truong", "ward": "25708",
                                "submitted_at": "2024-01-02T09:00:00+07:00", "sender.kind": "individual",
                                "sender.name": "Trần Thị B", "published": "true"})
        writer.writerow(base | {"external_id": "c2", "type": "pakn", "title": "",
                                "content": "x", "field": "dien", "submitted_at": "2024-01-02T09:00:00+07:00",
                                "sender.kind": "individual"})
    result = import_file(path)
    assert result.created == 1
    assert result.errors == [(3, "thiếu trường bắt buộc 'title'")]  # an empty CSV cell is a missing value
    (report,) = reports(session)
    assert (report.type, report.title, report.ward_code, report.published) == ("idea", "Trồng thêm cây xanh", 25708, True)
    assert report.code.startswith("HK-")


def test_cli_import_exits_1_and_lists_bad_lines(cli, tmp_path):
    path = write_jsonl(tmp_path / "cli.jsonl", [line(), "oops", line(external_id="x2", field="không có")])
    result = cli.invoke(args=["reports", "import", str(path)])
    assert result.exit_code == 1
    assert "Dòng 2: JSON không hợp lệ" in result.stderr
    assert "Dòng 3: lĩnh vực không tồn tại" in result.stderr
    assert "1 mới" in result.stdout and "2 dòng lỗi" in result.stdout


def test_cli_import_of_a_clean_file_exits_0(cli, tmp_path):
    path = write_jsonl(tmp_path / "ok.jsonl", [line()])
    result = cli.invoke(args=["reports", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 mới" in result.stdout


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_export_then_import_into_an_empty_database_round_trips(fresh_app, tmp_path, suffix):
    source = fresh_app()
    target = fresh_app()
    records = [
        line(external_id="r1"),
        line(external_id="r2", type="idea", title="Hiến kế: xe buýt khu công nghiệp", answer=None,
             status="pending", published=False, confidential=True,
             sender={"kind": "organization", "organization": "Công ty ABC", "name": "Lê C",
                     "phone": "+84 912 345 678", "address": "Phường Gò Dầu"}),
        line(external_id="r3", province=None, ward="Huyện Gò Dầu", answer=None, status="processing"),
    ]
    src_file = write_jsonl(tmp_path / "src.jsonl", records)
    first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
    with source.app_context():
        assert import_file(src_file).created == 3
        assert export_file(first) == 3
    with target.app_context():
        result = import_file(first)
        assert result.errors == [] and result.created == 3
        assert export_file(second) == 3
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    if suffix == ".jsonl":
        exported = [json.loads(x) for x in first.read_text(encoding="utf-8").splitlines()]
        assert exported[1]["sender"]["phone"] == "0912345678"
        assert exported[1]["confidential"] is True
        assert exported[2]["ward"] == "Huyện Gò Dầu"
        assert exported[0]["submitted_at"] == "2023-05-01T08:30:00+07:00"


def test_a_tracking_code_owned_by_another_report_is_a_bad_line(session, tmp_path, make_report):
    existing = make_report()
    session.commit()
    path = write_jsonl(tmp_path / "code.jsonl", [line(external_id="n1", code=existing.code.lower()),
                                                 line(external_id="n2", code="PA-2345-6789")])
    result = import_file(path)
    assert result.errors == [(1, f"mã theo dõi '{existing.code}' đã thuộc phản ánh khác")]
    assert result.created == 1
    assert session.scalar(select(Report).where(Report.external_id == "n2")).code == "PA-2345-6789"
