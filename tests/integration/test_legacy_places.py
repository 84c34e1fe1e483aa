"""Legacy place names (issue 16, 7): a former district or town maps to the current wards it became
(the crosswalk of migration 0009); filtering by one of those wards finds the reports that name only
the former unit, on Tra cứu, the API, the exports and Thống kê, marked "địa danh cũ"."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from webapp.reference.models import LegacyPlace, Ward


def ward_code(session, name: str, province: int = 80) -> int:
    return session.scalar(select(Ward.code).where(Ward.name == name, Ward.province_code == province))


def legacy(session, name: str, province: int) -> LegacyPlace:
    return session.scalar(select(LegacyPlace).where(LegacyPlace.name == name,
                                                    LegacyPlace.province_code == province))


def test_the_crosswalk_maps_former_districts_to_the_wards_they_became(session):
    hoa_thanh = {w.name for w in legacy(session, "Thị xã Hòa Thành", 80).wards}
    assert hoa_thanh == {"Phường Hoà Thành", "Phường Long Hoa", "Phường Thanh Điền"}
    assert "Phường Trảng Bàng" in {w.name for w in legacy(session, "Thị xã Trảng Bàng", 80).wards}
    assert "Phường Gò Dầu" in {w.name for w in legacy(session, "Huyện Gò Dầu", 80).wards}
    assert "Xã Châu Thành" in {w.name for w in legacy(session, "Huyện Châu Thành", 80).wards}
    tdm = legacy(session, "Thành phố Thủ Dầu Một", 79)
    assert "Phường Thủ Dầu Một" in {w.name for w in tdm.wards}
    assert all(w.province_code == 79 for w in tdm.wards)
    # Former Long An districts are in Tây Ninh now, with their wards.
    assert {w.province_code for w in legacy(session, "Huyện Bến Lức", 80).wards} == {80}


def named_by(make_report, session, place: str, **values):
    """A report that names only a legacy place: no current ward, the province it is in now."""
    report = make_report(**values)
    report.ward, report.ward_code, report.legacy_place = None, None, place
    session.flush()
    return report


def test_a_ward_filter_includes_reports_named_by_the_former_district(client, session, search, make_report):
    hoa_thanh, long_hoa = ward_code(session, "Phường Hoà Thành"), ward_code(session, "Phường Long Hoa")
    make_report(title="Ngập nước đường Phạm Hùng", ward_code=hoa_thanh)
    named_by(make_report, session, "Thị xã Hòa Thành", title="Ngập nước đường Lý Thường Kiệt")
    named_by(make_report, session, "Huyện Gò Dầu", title="Ngập nước quốc lộ 22")
    named_by(make_report, session, "Huyện Không Có", title="Ngập nước ở nơi không rõ")
    search.index()

    for params in ({"region": hoa_thanh}, {"region": hoa_thanh, "q": "ngap nuoc"}):
        body = client.get("/api/v1/reports", query_string=params).get_json()
        assert body["total"] == 2, params
        regions = {i["title"]: i["region"] for i in body["items"]}
        assert regions["Ngập nước đường Lý Thường Kiệt"]["legacy_place"] == "Thị xã Hòa Thành"
    only_legacy = client.get("/api/v1/reports", query_string={"region": long_hoa}).get_json()
    assert [i["title"] for i in only_legacy["items"]] == ["Ngập nước đường Lý Thường Kiệt"]

    page = client.get("/tra-cuu", query_string={"region": hoa_thanh}).get_data(as_text=True)
    assert "Ngập nước đường Lý Thường Kiệt" in page and "Ngập nước quốc lộ 22" not in page
    assert "Thị xã Hòa Thành" in page and "địa danh cũ" in page

    rows = list(csv.DictReader(io.StringIO(client.get(
        "/api/v1/reports.csv", query_string={"region": hoa_thanh}).get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(r["title"] for r in rows) == ["Ngập nước đường Lý Thường Kiệt", "Ngập nước đường Phạm Hùng"]

    stats = client.get("/api/v1/stats", query_string={"region": hoa_thanh}).get_json()
    assert stats["total"] == 2
    assert {r["key"]: r["label"] for r in stats["by_ward"]} == {
        hoa_thanh: "Phường Hoà Thành", "Thị xã Hòa Thành": "Thị xã Hòa Thành (địa danh cũ)"}
    everything = client.get("/api/v1/stats").get_json()
    labels = {r["key"]: r["label"] for r in everything["by_ward"]}
    # Only the name the crosswalk cannot resolve is left without a ward.
    assert labels[None] == "Chưa gắn xã, phường"
    assert {r["key"]: r["count"] for r in everything["by_ward"]}[None] == 1
    assert labels["Huyện Gò Dầu"] == "Huyện Gò Dầu (địa danh cũ)"
