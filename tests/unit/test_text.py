"""Vietnamese text tools: NFC, folding, phone numbers."""

from __future__ import annotations

import unicodedata

import pytest

from indexer.text import fold, mask_phone, nfc, normalize_phone


@pytest.mark.parametrize(("typed", "expected"), [
    ("0912345678", "0912345678"),
    ("091 234 5678", "0912345678"),
    ("091.234.5678", "0912345678"),
    ("091-234-5678", "0912345678"),
    ("+84 912 345 678", "0912345678"),
    ("84912345678", "0912345678"),
    ("(+84) 91-234-5678", "0912345678"),
    ("912345678", "0912345678"),          # without the leading 0
    ("01662345678", "0362345678"),        # renumbered in 2018: 0166 → 036
    ("+84 1662 345 678", "0362345678"),
    ("01202345678", "0702345678"),        # 0120 → 070
    ("01232345678", "0832345678"),        # 0123 → 083
    ("01992345678", "0592345678"),        # 0199 → 059
    ("0276 3822 123", "02763822123"),     # Tây Ninh landline
])
def test_phone_numbers_are_normalized(typed, expected):
    assert normalize_phone(typed) == expected


@pytest.mark.parametrize("typed", ["", "123", "abc", "0912", "091234567890123", "0123456789", None])
def test_things_that_are_not_phone_numbers_are_refused(typed):
    assert normalize_phone(typed) is None


def test_phone_is_masked_in_the_middle():
    assert mask_phone("0912345678") == "091*****78"
    assert mask_phone("+84 912 345 678") == "091*****78"
    assert mask_phone(None) == ""


def test_fold_removes_tones_and_maps_d_stroke():
    assert fold("Mất ĐIỆN ở Đường Trảng Bàng") == "mat dien o duong trang bang"
    assert fold("ngập nước") == fold("ngap nuoc") == "ngap nuoc"


def test_decomposed_text_is_normalized_to_nfc():
    decomposed = unicodedata.normalize("NFD", "Phường  Tân An ")
    assert nfc(decomposed) == "Phường Tân An"
    assert unicodedata.is_normalized("NFC", nfc(decomposed))
    assert fold(decomposed) == "phuong tan an"
