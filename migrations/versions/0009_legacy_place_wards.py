"""legacy place crosswalk: each former district or town → the current wards it became

Revision ID: 0009
Revises: 0008

The crosswalk is data/legacy_crosswalk.json beside these migrations, generated from the official
2025 merger lists as shipped by the `vietnamadminunits` package (see data/build_legacy_crosswalk.py).
It is read here, not from the app, so that this migration keeps meaning the same thing.
"""
import importlib.util
import json
import re
import unicodedata
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CROSSWALK = Path(__file__).resolve().parent.parent / "data" / "legacy_crosswalk.json"
# Names 0002 listed under an earlier type of the same unit (Bến Cát was a town until 2023).
SAME_UNIT = {"Thị xã Bến Cát": "Thành phố Bến Cát"}


def _fold(text):
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().lower()
    stripped = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return stripped.replace("đ", "d").replace("-", " ").replace("  ", " ")


def upgrade():
    op.create_table(
        "legacy_place_wards",
        sa.Column("legacy_place_id", sa.Integer, sa.ForeignKey("legacy_places.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("ward_code", sa.Integer, sa.ForeignKey("wards.code"), primary_key=True),
    )
    conn = op.get_bind()
    legacy = sa.table("legacy_places", sa.column("id", sa.Integer), sa.column("name", sa.String),
                      sa.column("name_folded", sa.String), sa.column("kind", sa.String),
                      sa.column("province_code", sa.Integer), sa.column("ward_code", sa.Integer))
    links = sa.table("legacy_place_wards", sa.column("legacy_place_id", sa.Integer),
                     sa.column("ward_code", sa.Integer))
    rows = conn.execute(sa.select(legacy.c.id, legacy.c.name, legacy.c.province_code)
                        .where(legacy.c.kind == "district")).all()
    ids = {(_fold(name), prov): id_ for id_, name, prov in rows}
    wards: dict[int, set[int]] = {}
    for entry in json.loads(CROSSWALK.read_text(encoding="utf-8")):
        key = (_fold(entry["name"]), entry["province_code"])
        if key not in ids:
            ids[key] = conn.execute(sa.insert(legacy).values(
                name=entry["name"], name_folded=key[0], kind="district",
                province_code=entry["province_code"], ward_code=None).returning(legacy.c.id)).scalar_one()
        # Two former districts of one name now in one province (Huyện Châu Thành of Tây Ninh and of
        # Long An): the name can mean either, so it maps to the wards of both.
        wards.setdefault(ids[key], set()).update(entry["wards"])
    for alias, unit in SAME_UNIT.items():
        for (folded, prov), id_ in list(ids.items()):
            if folded == _fold(alias) and (_fold(unit), prov) in ids:
                wards.setdefault(id_, set()).update(wards.get(ids[(_fold(unit), prov)], set()))
    op.bulk_insert(links, [{"legacy_place_id": id_, "ward_code": code}
                           for id_, codes in sorted(wards.items()) for code in sorted(codes)])
    for id_, codes in wards.items():
        if len(codes) == 1:  # one former unit became exactly one ward
            conn.execute(sa.update(legacy).where(legacy.c.id == id_).values(ward_code=next(iter(codes))))


def downgrade():
    op.drop_table("legacy_place_wards")
    # The rows 0002 wrote stay (without a ward code, as it wrote them); those added here go.
    spec = importlib.util.spec_from_file_location("_m0002", Path(__file__).with_name("0002_reference_data.py"))
    m0002 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0002)
    kept = [_fold(name) for name, _kind, _prov in m0002.LEGACY]
    legacy = sa.table("legacy_places", sa.column("name_folded", sa.String), sa.column("kind", sa.String),
                      sa.column("ward_code", sa.Integer))
    op.execute(sa.delete(legacy).where(legacy.c.kind == "district", legacy.c.name_folded.not_in(kept)))
    op.execute(sa.update(legacy).values(ward_code=None))
