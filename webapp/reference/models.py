"""Reference data: fields (lĩnh vực), administrative units (2025 structure), legacy place names."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Column, ForeignKey, Integer, String, Table, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from indexer.text import fold
from webapp.extensions import db


class Field(db.Model):
    """A field (lĩnh vực) a report belongs to."""

    __tablename__ = "fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    deadline_days: Mapped[int] = mapped_column(Integer, default=5)

    def __repr__(self) -> str:
        return f"<Field {self.slug}>"


class Province(db.Model):
    """A province or centrally-run city (codes of the `vietnam-provinces` package)."""

    __tablename__ = "provinces"

    code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(128))
    codename: Mapped[str] = mapped_column(String(128), unique=True)
    division_type: Mapped[str] = mapped_column(String(32))

    wards: Mapped[list[Ward]] = relationship(back_populates="province", order_by="Ward.name")


class Ward(db.Model):
    """A ward, commune or special zone (xã/phường/đặc khu) of the 2025 structure."""

    __tablename__ = "wards"

    code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(128))
    codename: Mapped[str] = mapped_column(String(128))
    division_type: Mapped[str] = mapped_column(String(32))
    province_code: Mapped[int] = mapped_column(ForeignKey("provinces.code"), index=True)

    province: Mapped[Province] = relationship(back_populates="wards")

    @property
    def full_name(self) -> str:
        return f"{self.name}, {self.province.name}"


legacy_place_wards = Table(
    "legacy_place_wards", db.metadata,
    Column("legacy_place_id", ForeignKey("legacy_places.id", ondelete="CASCADE"), primary_key=True),
    Column("ward_code", ForeignKey("wards.code"), primary_key=True),
)


class LegacyPlace(db.Model):
    """A place name from before the 1 July 2025 reorganisation, mapped to current units.

    ``ward_code`` is set only where the legacy unit maps to exactly one current ward;
    otherwise only the province is known and the legacy name is kept on the report.
    """

    __tablename__ = "legacy_places"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    name_folded: Mapped[str] = mapped_column(String(160), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # province | district | ward
    province_code: Mapped[int] = mapped_column(ForeignKey("provinces.code"))
    ward_code: Mapped[int | None] = mapped_column(ForeignKey("wards.code"))

    province: Mapped[Province] = relationship()
    ward: Mapped[Ward | None] = relationship()
    # The crosswalk (migration 0009): every current ward the former unit's area went into.
    wards: Mapped[list[Ward]] = relationship(secondary=legacy_place_wards, order_by="Ward.code")


def legacy_ward_codes(province_code: int | None, name: str | None) -> tuple[int, ...]:
    """The current ward codes a legacy place name maps to in its province (the crosswalk), or ().

    The crosswalk is reference data written by migrations only: it is read once per app.
    """
    if not name or province_code is None:
        return ()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    crosswalk = app.extensions.get("pakn_legacy_crosswalk")
    if crosswalk is None:
        merged: dict[tuple[int, str], set[int]] = {}
        rows = db.session.execute(
            select(LegacyPlace.province_code, LegacyPlace.name_folded, legacy_place_wards.c.ward_code)
            .join(legacy_place_wards, legacy_place_wards.c.legacy_place_id == LegacyPlace.id))
        for province, folded, ward in rows:
            merged.setdefault((province, folded), set()).add(ward)
        crosswalk = app.extensions["pakn_legacy_crosswalk"] = {k: tuple(sorted(v)) for k, v in merged.items()}
    return crosswalk.get((province_code, legacy_key(name)), ())


def legacy_key(name: str) -> str:
    """How a legacy name is compared (``LegacyPlace.name_folded``): folded, hyphens as spaces."""
    return " ".join(fold(name).replace("-", " ").split())
