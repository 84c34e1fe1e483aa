"""Build ``legacy_crosswalk.json``: each pre-1 July 2025 district or town → the current wards it became.

Not run by the app or the tests: its output is committed beside it, and migration 0009 reads that.
The source is the official 2025 merger lists as shipped by the ``vietnamadminunits`` package
(MIT; its ``converter_2025.json`` maps every former ward, by former province/district/ward, to
the current ward(s) it went into; its ``dataset.db`` names the units and gives the current ward
names, matched by name to the codes of ``vietnam-provinces``). To regenerate:

    pip install vietnamadminunits==1.0.4
    python migrations/data/build_legacy_crosswalk.py > migrations/data/legacy_crosswalk.json

A former district maps to every current ward that took in at least one of its former wards
(a ward split between two new wards counts for both), so the set is what "in the former Thị xã
Hòa Thành" can mean today. Only the current provinces the deployment seeds (Tây Ninh, which took in
Long An, and Thành phố Hồ Chí Minh, which took in Bình Dương and Bà Rịa - Vũng Tàu) are written.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import sys
import unicodedata
from pathlib import Path

from vietnam_provinces import Ward

CURRENT_PROVINCES = {"80": "tinhtayninh", "79": "thanhphohochiminh"}


def _fold(name: str) -> str:
    """Names compared without tone marks or their placement ("Hòa"/"Hoà"), case or spacing."""
    text = unicodedata.normalize("NFD", " ".join(name.split()).lower())
    return "".join(c for c in text if unicodedata.category(c) != "Mn").replace("đ", "d")


def main() -> None:
    # The package's data files only: importing it would load its parser (shapely, geopy).
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pip install vietnamadminunits==1.0.4 first")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    conv = json.loads((data / "converter_2025.json").read_text(encoding="utf-8"))
    db = sqlite3.connect(data / "dataset.db")
    known = {w.code.value: w for w in Ward.iter_all()}
    out = []
    for code, new_province_key in CURRENT_PROVINCES.items():
        # By name within the province: a few of the package's ward codes predate later corrections
        # that vietnam-provinces has (e.g. Phường Bàn Cờ 27154 → 27160); names are unique per province.
        by_name: dict[str, list[int]] = {}
        for w in known.values():
            if w.province_code.value == int(code):
                by_name.setdefault(_fold(w.name), []).append(w.code.value)
        new_code = {}
        for key, name, pkg_code in db.execute(
                "SELECT wardKey, ward, wardCode FROM admin_units WHERE provinceKey = ?", (new_province_key,)):
            same = known.get(int(pkg_code))
            if same is not None and same.province_code.value == int(code) and _fold(same.name) == _fold(name):
                new_code[key] = same.code.value  # the code agrees (folded: "Tân Thành"/"Tân Thạnh" differ by it)
                continue
            codes = by_name.get(_fold(name), [])
            if len(codes) != 1:
                sys.exit(f"{name}: {len(codes)} wards of that name in province {code} in vietnam-provinces")
            new_code[key] = codes[0]
        districts: dict[tuple[str, str], set[int]] = {}
        for new_key, old_keys in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].get(new_province_key, {}).items():
            for old in old_keys:
                prov, dist, _ward = old.split("_", 2)
                districts.setdefault((prov, dist), set()).add(new_code[new_key])
        for old, news in conv["DICT_PROVINCE_WARD_DIVIDED"].get(new_province_key, {}).items():
            prov, dist, _ward = old.split("_", 2)
            for new in news:
                districts.setdefault((prov, dist), set()).add(new_code[new["newWardKey"]])
        for (prov, dist), wards in sorted(districts.items()):
            row = db.execute("SELECT DISTINCT province, district, districtType FROM admin_units_legacy "
                             "WHERE provinceKey = ? AND districtKey = ?", (prov, dist)).fetchone()
            if row is None:
                sys.exit(f"unknown former district {prov}/{dist}")
            out.append({"name": row[1], "former_province": row[0], "province_code": int(code),
                        "wards": sorted(wards)})
    out.sort(key=lambda r: (r["province_code"], r["former_province"], r["name"]))
    json.dump(out, sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
