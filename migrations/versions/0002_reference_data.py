"""reference data: fields, roles, provinces and wards (2025), legacy place crosswalk

Revision ID: 0002
Revises: 0001

The data is written here, not imported from the app, so that this migration keeps meaning the
same thing when the app's code changes. Provinces and wards come from the pinned
`vietnam-provinces` package (2025 two-level structure: 34 provinces, 3,321 wards).
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FIELDS = [
    ("giao-thong", "Giao thông", 5),
    ("moi-truong", "Môi trường", 5),
    ("dat-dai", "Đất đai", 10),
    ("xay-dung-do-thi", "Xây dựng - Đô thị", 10),
    ("dien", "Điện", 5),
    ("cap-thoat-nuoc", "Cấp thoát nước", 5),
    ("y-te", "Y tế", 5),
    ("giao-duc", "Giáo dục", 5),
    ("an-ninh-trat-tu", "An ninh - Trật tự", 5),
    ("van-hoa-xa-hoi", "Văn hóa - Xã hội", 5),
    ("hanh-chinh-cong", "Hành chính công", 5),
    ("kinh-te", "Kinh tế", 5),
    ("khac", "Khác", 5),
]

ROLES = ["citizen", "officer", "leader", "admin"]

# Pre-1 July 2025 units and the current province they now belong to. A ward code is given only
# where one legacy unit became exactly one current ward; the districts below were each split or
# merged into several communes, so only the province is certain and the legacy name is kept.
_TAY_NINH, _HCM = 80, 79
LEGACY = [
    # former provinces
    ("Tỉnh Tây Ninh", "province", _TAY_NINH), ("Tỉnh Long An", "province", _TAY_NINH),
    ("Tỉnh Bình Dương", "province", _HCM), ("Tỉnh Bà Rịa - Vũng Tàu", "province", _HCM),
    # former districts and towns of Tây Ninh
    ("Thành phố Tây Ninh", "district", _TAY_NINH), ("Thị xã Hòa Thành", "district", _TAY_NINH),
    ("Thị xã Trảng Bàng", "district", _TAY_NINH), ("Huyện Tân Biên", "district", _TAY_NINH),
    ("Huyện Tân Châu", "district", _TAY_NINH), ("Huyện Dương Minh Châu", "district", _TAY_NINH),
    ("Huyện Châu Thành", "district", _TAY_NINH), ("Huyện Gò Dầu", "district", _TAY_NINH),
    ("Huyện Bến Cầu", "district", _TAY_NINH),
    # former districts and towns of Long An (merged into Tây Ninh)
    ("Thành phố Tân An", "district", _TAY_NINH), ("Thị xã Kiến Tường", "district", _TAY_NINH),
    ("Huyện Tân Hưng", "district", _TAY_NINH), ("Huyện Vĩnh Hưng", "district", _TAY_NINH),
    ("Huyện Mộc Hóa", "district", _TAY_NINH), ("Huyện Tân Thạnh", "district", _TAY_NINH),
    ("Huyện Thạnh Hóa", "district", _TAY_NINH), ("Huyện Đức Huệ", "district", _TAY_NINH),
    ("Huyện Đức Hòa", "district", _TAY_NINH), ("Huyện Bến Lức", "district", _TAY_NINH),
    ("Huyện Thủ Thừa", "district", _TAY_NINH), ("Huyện Tân Trụ", "district", _TAY_NINH),
    ("Huyện Cần Đước", "district", _TAY_NINH), ("Huyện Cần Giuộc", "district", _TAY_NINH),
    # former districts and towns of Bình Dương (merged into Thành phố Hồ Chí Minh)
    ("Thành phố Thủ Dầu Một", "district", _HCM), ("Thành phố Dĩ An", "district", _HCM),
    ("Thành phố Thuận An", "district", _HCM), ("Thành phố Tân Uyên", "district", _HCM),
    ("Thành phố Bến Cát", "district", _HCM), ("Thị xã Bến Cát", "district", _HCM),
    ("Huyện Bàu Bàng", "district", _HCM), ("Huyện Dầu Tiếng", "district", _HCM),
    ("Huyện Phú Giáo", "district", _HCM), ("Huyện Bắc Tân Uyên", "district", _HCM),
]


def _fold(text):
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().lower()
    stripped = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return stripped.replace("đ", "d").replace("-", " ").replace("  ", " ")


def _clean(name):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", name)).strip()


def upgrade():
    from vietnam_provinces import Province, Ward

    meta = sa.MetaData()
    fields = sa.Table("fields", meta, sa.Column("id", sa.Integer), sa.Column("slug", sa.String),
                      sa.Column("name", sa.String), sa.Column("position", sa.Integer),
                      sa.Column("deadline_days", sa.Integer))
    roles = sa.Table("roles", meta, sa.Column("id", sa.Integer), sa.Column("name", sa.String))
    provinces = sa.Table("provinces", meta, sa.Column("code", sa.Integer), sa.Column("name", sa.String),
                         sa.Column("codename", sa.String), sa.Column("division_type", sa.String))
    wards = sa.Table("wards", meta, sa.Column("code", sa.Integer), sa.Column("name", sa.String),
                     sa.Column("codename", sa.String), sa.Column("division_type", sa.String),
                     sa.Column("province_code", sa.Integer))
    legacy = sa.Table("legacy_places", meta, sa.Column("name", sa.String),
                      sa.Column("name_folded", sa.String), sa.Column("kind", sa.String),
                      sa.Column("province_code", sa.Integer), sa.Column("ward_code", sa.Integer))

    op.bulk_insert(fields, [{"slug": s, "name": n, "position": i, "deadline_days": d}
                            for i, (s, n, d) in enumerate(FIELDS)])
    op.bulk_insert(roles, [{"name": r} for r in ROLES])
    op.bulk_insert(provinces, [
        {"code": p.code.value, "name": _clean(p.name), "codename": p.codename,
         "division_type": p.division_type.value}
        for p in sorted(Province.iter_all(), key=lambda p: p.code.value)])
    op.bulk_insert(wards, [
        {"code": w.code.value, "name": _clean(w.name), "codename": w.codename,
         "division_type": w.division_type.value, "province_code": w.province_code.value}
        for w in sorted(Ward.iter_all(), key=lambda w: w.code.value)])
    op.bulk_insert(legacy, [
        {"name": name, "name_folded": _fold(name), "kind": kind, "province_code": prov,
         "ward_code": None}
        for name, kind, prov in LEGACY])


def downgrade():
    for table in ("legacy_places", "wards", "provinces", "roles", "fields"):
        op.execute(sa.text(f"DELETE FROM {table}"))
