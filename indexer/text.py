"""Vietnamese text tools shared by the webapp and the indexer: NFC, folding, phone numbers."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_SPACES = re.compile(r"\s+")


def nfc(text: str | None) -> str:
    """Return ``text`` in Unicode NFC with runs of whitespace collapsed and ends trimmed."""
    if not text:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def nfc_multiline(text: str | None) -> str:
    """Return ``text`` in NFC keeping line breaks (for report content), trailing spaces trimmed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def fold(text: str | None) -> str:
    """Lower-case ``text`` and remove Vietnamese diacritics, mapping đ/Đ to d."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", nfc(text).lower())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return stripped.replace("đ", "d")


# Mobile prefixes renumbered in 2018 (the last 7 digits did not change).
OLD_MOBILE_PREFIXES: dict[str, str] = {
    **{f"016{d}": f"03{d}" for d in "23456789"},
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    "0186": "056", "0188": "058", "0199": "059",
}


def phone_digits(raw: str | None) -> str:
    """Digits of a phone as typed, with +84/84 turned into the leading 0 and old prefixes mapped.

    This does not say whether the result is a real number; see ``normalize_phone``.
    """
    if not raw:
        return ""
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    elif digits and not digits.startswith("0") and len(digits) in (9, 10):
        # typed without the leading 0 ("912345678")
        digits = "0" + digits
    if len(digits) == 11 and digits[:4] in OLD_MOBILE_PREFIXES:
        digits = OLD_MOBILE_PREFIXES[digits[:4]] + digits[4:]
    return digits


def normalize_phone(raw: str | None) -> str | None:
    """Return the national form of a Vietnamese phone number (``0912345678``), or None if invalid.

    Accepts spaces, dots, dashes, brackets, ``+84``/``84`` and the pre-2018 11-digit mobile
    numbers (mapped to today's 10-digit ones). Validity is decided by ``phonenumbers``.
    """
    digits = phone_digits(raw)
    if not digits or len(digits) < 9 or len(digits) > 11:
        return None
    try:
        parsed = phonenumbers.parse(digits, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number_for_region(parsed, "VN"):
        return None
    return "0" + str(parsed.national_number)


def is_mobile(phone: str) -> bool:
    """Whether a normalized number is a mobile number (can receive an SMS)."""
    parsed = phonenumbers.parse(phone, "VN")
    return phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


# A masked phone hides five digits: 100,000 candidates to try per masked number (issue: 4 hidden
# digits were found in 2.3 s of guessing). The first three digits (carrier prefix) and the last two stay.
PHONE_HIDDEN_DIGITS = 5


def mask_phone(phone: str | None) -> str:
    """Show a phone with its middle hidden: ``0912345678`` → ``091*****78`` (10^5 possibilities)."""
    digits = phone_digits(phone)
    if len(digits) < 8:
        return "***" if digits else ""
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


# -- personal data inside free text (masked in the public version of a report) -----------------------
# "@" is also spelled "[at]", "(at)", "{at}", " at " inside brackets, or with spaces around it.
_AT = r"(?:\s*@\s*|\s*[\[({]\s*(?:at|@|a còng)\s*[\])}]\s*)"
_DOT = r"(?:\.|\s*[\[({]\s*(?:dot|chấm|\.)\s*[\])}]\s*)"
_EMAIL_IN_TEXT = re.compile(
    rf"(?<![\w.%+-])([A-Za-z0-9])[A-Za-z0-9._%+-]*{_AT}((?:[A-Za-z0-9-]+{_DOT})+[A-Za-z]{{2,}})\b",
    re.IGNORECASE)
_DOT_SPELLED = re.compile(_DOT, re.IGNORECASE)
# Vehicle plates: 51F-123.45, 51F1-234.56, 59-X1 234.56, 70A 12345, 29LD-123.45
_PLATE = re.compile(r"\b(\d{2})[- ]?([A-Z]{1,2}\d?)[- ]?(\d{3}\.?\d{2}|\d{4,5})\b")
# A run of digits that may be a phone or an ID number: groups of digits joined by spaces, dots,
# dashes, slashes or brackets ("(0912) 345 678", "0912/345/678", "(+84) 912.345.678", "079 123 456 789").
_DIGIT_RUN = re.compile(r"(?<![\w.,])[(+]{0,2}\d(?:\)?[ \t.\-/]{0,2}\(?\d){7,14}(?![\w])")


def _ascii_digits(text: str) -> str:
    """Full-width and other Unicode decimal digits as ASCII ("０９１２" → "0912")."""
    return re.sub(r"\d", lambda m: str(unicodedata.digit(m.group(), 0)) if not m.group().isascii()
                  else m.group(), text)


def _mask_digit_run(m: re.Match[str]) -> str:
    run = m.group()
    digits = re.sub(r"\D", "", run)
    lead = "(" if run.startswith("(") and ")" not in run else ""  # "(0912…, a@b.vn)": the text's bracket
    if normalize_phone(run) is not None:
        return lead + mask_phone(run)
    # Citizen ID (12 digits) and old ID card (9 digits), written whole or in groups with spaces.
    # Money ("150.000.000 đồng") uses dots and is left alone.
    if len(digits) == 12 or (len(digits) == 9 and not re.search(r"[.\-/]", run)):
        return lead + digits[:3] + "*" * (len(digits) - 5) + digits[-2:]
    return run


def mask_personal_data(text: str | None) -> str:
    """Hide phone numbers, 9/12-digit ID numbers, emails and vehicle plates in free text.

    The spellings covered (with spaces, dots, dashes, slashes, brackets, +84, without the leading
    0, full-width digits, "[at]") are listed in tests/unit/test_masking.py.
    """
    if not text:
        return ""
    text = _ascii_digits(text)
    text = _EMAIL_IN_TEXT.sub(lambda m: f"{m.group(1)}***@{_DOT_SPELLED.sub('.', m.group(2))}", text)
    text = _DIGIT_RUN.sub(_mask_digit_run, text)
    text = _PLATE.sub(lambda m: f"{m.group(1)}{m.group(2)}-***.**", text)
    return text


# -- a confidential sender's own details inside free text --------------------------------------------
REDACTED = "***"
# A run that may be a phone number however it was typed: digits with spaces, dots, dashes,
# brackets or a leading "+" between them ("(+84) 987-111-222", "0987 111 222", "84.987.111.222").
_PHONE_RUN = re.compile(r"(?<![\w])\+?\(?\+?\d[\d\s.\-()]{6,20}\d(?![\w])")


def _folded_with_positions(text: str) -> tuple[str, list[int]]:
    """``text`` folded character by character (as ``fold``), with the index in ``text`` of each
    folded character, so that a match in the folded text maps back to the original."""
    out: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        decomposed = unicodedata.normalize("NFD", char.lower())
        for piece in decomposed:
            if unicodedata.category(piece) == "Mn":
                continue
            out.append("d" if piece == "đ" else piece)
            where.append(index)
    return "".join(out), where


def redact_sender(text: str, names: tuple[str | None, ...] = (), phone: str | None = None,
                  email: str | None = None) -> str:
    """Remove a sender's own name(s), phone (in any spelling) and email from ``text``.

    Names match whole words, in any case and with or without diacritics ("Nguyễn Kín Đáo",
    "NGUYEN KIN DAO"); the phone matches by its normalized digits; the email in any case.
    """
    if not text:
        return ""
    if email and email.strip():
        text = re.sub(re.escape(email.strip()), REDACTED, text, flags=re.IGNORECASE)
    wanted = phone_digits(phone)
    if len(wanted) >= 9:
        text = _PHONE_RUN.sub(lambda m: REDACTED if wanted in _digit_variants(m.group()) else m.group(), text)
    for name in names:
        words = fold(name).split()
        if not words or sum(len(w) for w in words) < 3:
            continue  # a one- or two-letter name would hide ordinary words
        pattern = re.compile(r"(?<!\w)" + r"[\W_]+".join(re.escape(w) for w in words) + r"(?!\w)")
        folded, where = _folded_with_positions(text)
        spans = [(where[m.start()], where[m.end() - 1] + 1) for m in pattern.finditer(folded)]
        for start, end in reversed(spans):
            text = text[:start] + REDACTED + text[end:]
    return text


def _digit_variants(run: str) -> set[str]:
    """The phone numbers a digit run may stand for: the whole run, and each 10/11-digit window."""
    digits = re.sub(r"\D", "", run)
    variants = {phone_digits(run)}
    for size in (9, 10, 11):
        for start in range(0, max(0, len(digits) - size) + 1):
            variants.add(phone_digits(digits[start:start + size]))
    return variants
