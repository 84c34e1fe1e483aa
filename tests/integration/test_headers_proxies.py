"""What responses say about caching and the server, and whom per-client limits count: the real
client behind a configured proxy, IPv6 clients per /64."""

from __future__ import annotations

import pytest

from webapp.clientip import client_key


def test_pages_with_personal_data_are_never_stored(client, otp_login, make_report, staff_login, make_staff):
    phone = otp_login()
    for url in ("/pakn-cua-toi", "/api/v1/me/reports", "/gui-phan-anh"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    report = make_report(sender_phone=phone, published=True)
    looked_up = client.post("/tra-cuu-ma", data={"code": report.code, "phone": phone})
    assert looked_up.headers["Cache-Control"] == "no-store"
    secret = make_report(confidential=True, sender_name="Người Kín", sender_phone="0987654321")
    officer = staff_login(make_staff("canbo", role="officer"))
    staff_page = officer.get(f"/can-bo/pakn/{secret.code}")
    assert staff_page.status_code == 200 and staff_page.headers["Cache-Control"] == "no-store"


def test_public_pages_for_visitors_stay_cacheable(client):
    response = client.get("/")
    assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", "")


def test_no_server_version_is_sent(app):
    """Served for real (the dev server that `make run` uses adds "Werkzeug/x.y Python/x.y")."""
    import threading

    import requests
    from werkzeug.serving import make_server

    from webapp.hardening import QuietRequestHandler  # what `flask serve` runs with

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sent = requests.get(f"http://127.0.0.1:{server.port}/", timeout=10).headers
    finally:
        server.shutdown()
    header = sent.get("Server", "")
    assert "Werkzeug" not in header and "Python" not in header and not any(ch.isdigit() for ch in header)


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
])
def test_ipv6_clients_are_counted_per_64(address, key):
    assert client_key(address) == key


def test_limits_count_the_real_client_behind_a_trusted_proxy(fresh_app):
    """Two clients behind one proxy each get their own SMS budget; without the setting, the
    header is not believed (anyone could send it)."""
    from webapp.clientip import client_key as key

    for proxies, expected in ((1, "198.51.100.7"), (0, "10.0.0.2")):
        app = fresh_app(TRUSTED_PROXIES=proxies)

        @app.get("/_whoami")
        def whoami():
            return key()

        c = app.test_client()
        seen = c.get("/_whoami", headers={"X-Forwarded-For": "198.51.100.7"},
                     environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_data(as_text=True)
        assert seen == expected
