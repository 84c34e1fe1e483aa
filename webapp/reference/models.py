"""Reference data: fields (lĩnh vực), administrative units (2025 structure), legacy place names."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
