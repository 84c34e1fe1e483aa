"""Lookups of fields and places by code or (Vietnamese, legacy) name, for import and forms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from indexer.text import fold, nfc
from webapp.extensions import db
from webapp.reference.models import Field, LegacyPlace, Province, Ward

_WARD_PREFIX = re.compile(r"^(phuong|xa|dac khu|thi tran)\s+")
_PROVINCE_PREFIX = re.compile(r"^(tinh|thanh pho|tp\.?)\s+")


def _key(name: str) -> str:
    return fold(name).replace("-", " ").replace("  ", " ").strip()


def ward_keys(name: str) -> set[str]:
    """What a ward's name matches when typed: folded, with or without "Phường"/"Xã"/…"""
    full = _key(name)
    return {full, _WARD_PREFIX.sub("", full)}


@dataclass(frozen=True)
class Place:
    """Where a report is: a province, a current ward when known, and the legacy name if one was given."""

    province_code: int
    ward_code: int | None
    legacy_place: str | None


class PlaceError(ValueError):
    """A name or code that matches no place, or more than one."""


class ReferenceIndex:
    """In-memory lookup tables over fields, provinces, wards and legacy names (load once per import)."""

    def __init__(self) -> None:
        fields = db.session.scalars(select(Field)).all()
        self.fields_by_key: dict[str, Field] = {}
        for f in fields:
            self.fields_by_key[f.slug] = f
            self.fields_by_key[_key(f.name)] = f
        self.provinces = {p.code: p for p in db.session.scalars(select(Province))}
        self.province_by_key: dict[str, list[Province]] = {}
        for p in self.provinces.values():
            for k in {_key(p.name), _PROVINCE_PREFIX.sub("", _key(p.name)), p.codename.replace("_", " ")}:
                self.province_by_key.setdefault(k, []).append(p)
        self.wards = {w.code: w for w in db.session.scalars(select(Ward))}
        self.ward_by_key: dict[str, list[Ward]] = {}
        for w in self.wards.values():
            for k in ward_keys(w.name):
                self.ward_by_key.setdefault(k, []).append(w)
        self.legacy_by_key: dict[str, list[LegacyPlace]] = {}
        for lp in db.session.scalars(select(LegacyPlace)):
            self.legacy_by_key.setdefault(lp.name_folded, []).append(lp)

    def field(self, value: str) -> Field | None:
        """A field by slug or Vietnamese name (diacritics and case ignored)."""
        value = nfc(value)
        return self.fields_by_key.get(value) or self.fields_by_key.get(_key(value))

    def province(self, value: str | int | None) -> Province | None:
        if value is None or value == "":
            return None
        text = nfc(str(value))
        if text.isdigit():
            return self.provinces.get(int(text))
        key = _key(text)
        bare = _PROVINCE_PREFIX.sub("", key)
        matches = self.province_by_key.get(key) or self.province_by_key.get(bare, [])
        if len(matches) == 1:
            return matches[0]
        # A former province ("Bình Dương", "Tỉnh Long An") maps to the one that absorbed it.
        legacy = {lp.province_code for k, lps in self.legacy_by_key.items()
                  for lp in lps if lp.kind == "province" and bare == _PROVINCE_PREFIX.sub("", k)}
        return self.provinces[legacy.pop()] if len(legacy) == 1 else None

    def place(self, ward: str | int | None, province: str | int | None,
              default_provinces: list[int]) -> Place:
        """Resolve a ward (code, current name or legacy name) within a province.

        The province, when given, must exist. A current ward name wins over a legacy name; a
        name shared by several wards must be disambiguated by the province. A legacy name maps
        to its current province, and to a ward only where the crosswalk says it is unambiguous.
        """
        prov = None
        if province not in (None, ""):
            prov = self.province(province)
            if prov is None:
                raise PlaceError(f"không tìm thấy tỉnh/thành '{province}'")
        scope = [prov.code] if prov else default_provinces
        text = nfc(str(ward)) if ward not in (None, "") else ""
        if not text:
            if prov is None:
                raise PlaceError("thiếu tỉnh/thành và xã/phường")
            return Place(prov.code, None, None)
        if text.isdigit():
            w = self.wards.get(int(text))
            if w is None:
                raise PlaceError(f"mã xã/phường {text} không tồn tại")
            if prov and w.province_code != prov.code:
                raise PlaceError(f"xã/phường {w.name} không thuộc {prov.name}")
            return Place(w.province_code, w.code, None)
        key = _key(text)
        everywhere = self.ward_by_key.get(key, [])
        current = [w for w in everywhere if w.province_code in scope]
        if not current and prov is None and len(everywhere) == 1:
            current = everywhere  # a unique name outside the deployment's own province(s)
        if len(current) == 1:
            return Place(current[0].province_code, current[0].code, None)
        legacy = [lp for lp in self.legacy_by_key.get(key, [])
                  if prov is None or lp.province_code == prov.code]
        legacy_provinces = {lp.province_code for lp in legacy}
        if len(legacy_provinces) == 1:
            lp = legacy[0]
            return Place(lp.province_code, lp.ward_code, text)
        if len(current) > 1:
            raise PlaceError(f"có nhiều xã/phường tên '{text}'; cần ghi rõ mã")
        if len(legacy_provinces) > 1:
            raise PlaceError(f"địa danh cũ '{text}' thuộc nhiều tỉnh; cần ghi rõ tỉnh/thành")
        raise PlaceError(f"không tìm thấy xã/phường '{text}'")
