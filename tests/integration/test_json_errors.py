"""Every JSON error has the one shape of ``webapp.errors.json_error``: ``{"error": {"code",
"message", "field"}}``, ``field`` present (null when no field is at fault), a non-empty message."""

from __future__ import annotations

import pytest


def _assert_shape(response, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code
    assert body["error"]["field"] == field
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip()


@pytest.mark.parametrize(("method", "url", "kwargs", "status", "code", "field"), [
    ("get", "/api/v1/khong-co-duong-dan-nay", {}, 404, "http_404", None),
    ("get", "/api/v1/reports?from=2026-13-45", {}, 400, "bad_date", "from"),
    ("get", "/api/v1/stats?field=khong-co", {}, 400, "unknown_field", "field"),
    ("get", "/api/v1/reports.csv?phone=0912345678", {}, 400, "phone_in_url", "phone"),
    ("get", "/api/v1/reports", {"headers": {"X-API-Key": "pakn_sai_khoa"}}, 401, "invalid_api_key",
     "api_key"),
    ("post", "/api/v1/auth/otp/request", {"data": "không phải JSON"}, 400, "invalid_json", None),
    ("get", "/dang-nhap/ma/trang-thai", {}, 404, "no_challenge", None),
])
def test_json_errors_have_one_shape(client, search, method, url, kwargs, status, code, field):
    _assert_shape(getattr(client, method)(url, **kwargs), status, code, field)
