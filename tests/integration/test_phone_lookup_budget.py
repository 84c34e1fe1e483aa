"""Unmasking a phone by guessing must take longer than it is worth (issue: 250 guesses from 3 IPs
found a masked number in 2.3 s). A masked number has 10^5 candidates (tests/unit/test_masking.py);
phone searches are limited to 10 an hour and 30 a day per client and per browser session."""

from __future__ import annotations

import pytest


@pytest.fixture
def limited(fresh_app):
    return fresh_app(RATE_LIMITS=True)


def guess(client, n: int, ip: str = "203.0.113.5"):
    return client.post("/api/v1/reports/search", json={"phone": f"09123{n:05d}"}, environ_base={"REMOTE_ADDR": ip})


def test_the_eleventh_phone_search_in_an_hour_is_refused(limited):
    client = limited.test_client()
    statuses = [guess(client, n).status_code for n in range(11)]
    assert 429 not in statuses[:10] and statuses[10] == 429
    refused = guess(client, 99)
    error = refused.get_json()["error"]
    assert error["code"] == "phone_lookup_limited" and error["field"] == "phone"
    assert int(refused.headers["Retry-After"]) > 0 and "quá nhiều lần" in error["message"]
    # Text searches are not part of this budget.
    assert client.post("/api/v1/reports/search", json={"q": "ngập"},
                       environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code != 429


def test_a_new_address_does_not_reset_the_browser_sessions_budget(limited):
    client = limited.test_client()  # keeps its cookie, changes address each time
    statuses = [guess(client, n, ip=f"198.51.100.{n + 1}").status_code for n in range(11)]
    assert statuses[10] == 429


def test_ipv6_addresses_of_one_64_share_a_budget(limited):
    statuses = [guess(limited.test_client(), n, ip=f"2001:db8:7:9::{n + 1:x}").status_code for n in range(11)]
    assert statuses[10] == 429  # a fresh cookie-less client each time, rotating inside one /64


def test_the_tra_cuu_phone_box_has_the_same_budget(limited):
    client = limited.test_client()
    for n in range(10):
        client.post("/tra-cuu", data={"phone": f"09123{n:05d}"})
    page = client.post("/tra-cuu", data={"phone": "0912399999"})
    assert page.status_code == 429 and "quá nhiều lần" in page.get_data(as_text=True)


def test_the_budget_outlasts_a_month_of_guessing():
    """The arithmetic of docs/security.md: 10^5 candidates at the daily cap."""
    from limits import parse_many

    import config

    default = next(s.default for s in config.SETTINGS if s.name == "PHONE_LOOKUP_LIMIT")
    per_day = min(item.amount * (86400 // item.get_expiry()) for item in parse_many(default))
    assert 100_000 / per_day / 2 > 30  # the expected (half of all) guesses take more than a month
