"""The English catalogue is complete: every Vietnamese source string has a translation."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from config import PROJECT_ROOT

PO = PROJECT_ROOT / "webapp" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
METHODS = [("webapp/**.py", "python"), ("webapp/templates/**.html", "jinja2")]


def test_every_string_in_the_code_is_translated_to_english():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "N_": None}
    found = {msg for _f, _l, msg, _c, _ctx in extract_from_dir(PROJECT_ROOT, METHODS, keywords=keywords)
             if isinstance(msg, str)}
    assert "Tra cứu phản ánh kiến nghị" in found and len(found) > 100  # the extraction saw the code
    missing = sorted(found - set(translated))
    assert missing == [], f"untranslated (run pybabel extract/update, then translate): {missing[:5]}"
