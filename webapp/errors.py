"""The one shape of a JSON error: ``{"error": {"code", "message", "field"}}`` with a status.

Every JSON endpoint (``/api/v1``, the auth API, exports, Thống kê) answers errors through
``json_error``; Open311 keeps its own list shape (GeoReport v2) but builds it from the same parts.
"""

from __future__ import annotations

from flask import Response, jsonify


def json_error(code: str, message: str, status: int, field: str | None = None,
               retry_after: int | None = None) -> tuple[Response, int]:
    """A JSON error response: a stable ``code``, a Vietnamese ``message``, the ``field`` at fault."""
    response = jsonify(error={"code": code, "message": message, "field": field})
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response, status
