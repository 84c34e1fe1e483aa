"""Tracking codes: short, case-insensitive, no look-alike characters, one line on a phone.

A code looks like ``PA-7K3M-Q9XD`` (``HK-`` for a hiến kế): 8 characters from a 30-symbol
alphabet without 0/O, 1/I/L and U (≈ 6.6 × 10^11 codes per type), 12 characters in all.
"""

from __future__ import annotations

import random
import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIXES = {"pakn": "PA", "idea": "HK"}
_CODE_RE = re.compile(rf"^(PA|HK)-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def new_code(report_type: str, rng: random.Random | None = None) -> str:
    """A fresh random code for a report of ``report_type``; ``rng`` makes it deterministic."""
    choice = rng.choice if rng is not None else secrets.choice
    body = "".join(choice(ALPHABET) for _ in range(8))
    return f"{PREFIXES[report_type]}-{body[:4]}-{body[4:]}"


def normalize_code(text: str | None) -> str:
    """Upper-case a typed code, drop spaces, restore the dashes; ``""`` when it cannot be a code."""
    if not text:
        return ""
    compact = re.sub(r"[\s\-_.]", "", text.upper())
    if len(compact) != 10 or compact[:2] not in PREFIXES.values():
        return ""
    body = compact[2:]
    code = f"{compact[:2]}-{body[:4]}-{body[4:]}"
    return code if _CODE_RE.match(code) else ""
