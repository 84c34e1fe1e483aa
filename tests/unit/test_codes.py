"""Tracking codes: unambiguous, case-insensitive, short enough for one line on a phone."""

from __future__ import annotations

import random

import pytest

from webapp.reports.codes import ALPHABET, new_code, normalize_code


def test_codes_have_the_documented_shape():
    code = new_code("pakn")
    assert code.startswith("PA-") and len(code) == 12
    assert new_code("idea").startswith("HK-")
    assert all(ch in ALPHABET for ch in code[3:].replace("-", ""))


def test_alphabet_has_no_look_alike_characters():
    for ch in "0O1IL":
        assert ch not in ALPHABET


def test_seeded_codes_are_deterministic_and_random_codes_do_not_repeat():
    assert new_code("pakn", random.Random(7)) == new_code("pakn", random.Random(7))
    codes = {new_code("pakn") for _ in range(20000)}
    assert len(codes) == 20000


@pytest.mark.parametrize("typed", ["pa-7k3m-q9xd", "PA7K3MQ9XD", " pa 7k3m q9xd ", "PA-7K3M-Q9XD"])
def test_typed_codes_are_normalized(typed):
    assert normalize_code(typed) == "PA-7K3M-Q9XD"


def test_codes_with_characters_never_issued_are_rejected():
    assert normalize_code("PA-7K3M-QOXD") == ""
    assert normalize_code("HK-ABCD-EFGI") == ""
    assert normalize_code("HK-ABCD-EFG1") == ""


@pytest.mark.parametrize("typed", ["", "XX-7K3M-Q9XD", "PA-7K3M", "PA-7K3M-Q9XD-1", "PA-7K3M-Q9X!"])
def test_things_that_are_not_codes_normalize_to_empty(typed):
    assert normalize_code(typed) == ""
