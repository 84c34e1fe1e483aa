"""What the public sees of personal data typed into a report: every usual Vietnamese spelling of a
phone, an ID number, an e-mail and a plate is masked; ordinary numbers (money, dates) are not."""

from __future__ import annotations

import pytest

from indexer.text import mask_personal_data, mask_phone

# (typed, what must not be left in the output, what the output must contain)
HIDDEN = [
    ("Gọi 0912345678 nhé", "2345", "091*****78"),
    ("Gọi 0912 345 678 nhé", "345 6", "091*****78"),
    ("Gọi 0912.345.678 nhé", "345.6", "091*****78"),
    ("Gọi 0912-345-678 nhé", "345-6", "091*****78"),
    ("Gọi (0912) 345 678 nhé", "345 6", "091*****78"),
    ("Liên hệ (0912345678, anh Ba)", "2345", "(091*****78, anh Ba)"),
    ("Liên hệ (+84) 912-345-678", "345-6", "091*****78"),
    ("Gọi 0912/345/678 nhé", "345/6", "091*****78"),
    ("Gọi +84 912 345 678 nhé", "345 6", "091*****78"),
    ("Gọi +84912345678 nhé", "2345", "091*****78"),
    ("Gọi 84912345678 nhé", "2345", "091*****78"),
    ("Gọi 912345678 nhé", "2345", "091*****78"),
    ("Gọi ０９１２３４５６７８ nhé", "2345", "091*****78"),
    ("Gọi ０９１２ ３４５ ６７８ nhé", "345", "091*****78"),
    ("Số cũ 01662345678", "2345", "036*****78"),
    ("Bàn 028 3823 4567", "3823", "028******67"),
    ("CCCD 079123456789", "1234567", "079*******89"),
    ("CCCD 079 123 456 789", "123 456", "079*******89"),
    ("CMND 271234567", "12345", "271****67"),
    ("CMND 271 234 567", "234 5", "271****67"),
    ("Email an.nguyen@gmail.com", "an.nguyen", "a***@gmail.com"),
    ("Email an.nguyen[at]gmail.com", "an.nguyen", "a***@gmail.com"),
    ("Email an.nguyen(at)gmail.com", "an.nguyen", "a***@gmail.com"),
    ("Email an.nguyen @ gmail.com", "an.nguyen", "a***@gmail.com"),
    ("Email an.nguyen[at]gmail[dot]com", "an.nguyen", "a***@gmail.com"),
    ("Biển số 51F-123.45 đỗ trái phép", "123.45", "51F-***.**"),
    ("Biển số 59X1 234.56", "234.56", "59X1-***.**"),
]


@pytest.mark.parametrize(("typed", "gone", "shown"), HIDDEN)
def test_personal_data_is_masked_in_every_usual_spelling(typed, gone, shown):
    masked = mask_personal_data(typed)
    assert gone not in masked, masked
    assert shown in masked, masked


KEPT = [
    "Hỗ trợ 150.000.000 đồng cho 12 hộ",
    "Ngày 2025-03-31 lúc 14:30",
    "Quốc lộ 22B km 12+500",
    "Tổ 3, ấp 5, số nhà 123/45",
    "Năm 2025 có 1.250 hộ dân",
]


@pytest.mark.parametrize("typed", KEPT)
def test_ordinary_numbers_are_left_alone(typed):
    assert mask_personal_data(typed) == typed


def test_a_masked_phone_needs_100000_guesses():
    """Five digits hidden: 10^5 numbers share one mask (docs/security.md, phone lookups)."""
    for number in ("0912345678", "+84 912 345 678", "01662345678"):
        assert mask_phone(number).count("*") == 5
    assert mask_phone(None) == ""
