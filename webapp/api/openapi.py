"""The OpenAPI 3 description of /api/v1, served at /api/openapi.json, and a plain page listing it.

The document lives in ``schemas/openapi.json`` and is kept true by tests: every response of the
API is validated against it, every /api/v1 rule must be described there (and nothing else), and a
bounded schemathesis run fuzzes it (tests/integration/test_openapi.py, test_api_fuzz.py).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, render_template, request

DOCUMENT_PATH = Path(__file__).resolve().parent.parent.parent / "schemas" / "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")

bp = Blueprint("api_doc", __name__, url_prefix="/api")


@lru_cache(maxsize=1)
def _stored() -> dict[str, Any]:
    return json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


def document(base_url: str) -> dict[str, Any]:
    """The document with its server set to ``base_url`` + /api/v1 (the host the client reached)."""
    doc = copy.deepcopy(_stored())
    doc["servers"] = [{"url": base_url.rstrip("/") + "/api/v1"}]
    return doc


@bp.get("/openapi.json")
def openapi_json():
    response = jsonify(document(request.url_root))
    # Any site may read the public description (the API itself grants no cross-site cookies).
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/")
def index():
    """A readable list of the operations, generated from the same document (no external assets)."""
    doc = document(request.url_root)
    operations = [
        {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
         "login": any("session" in req for req in op.get("security", [])), "tag": (op.get("tags") or [""])[0]}
        for path, item in doc["paths"].items() for method in METHODS if method in item
        for op in [item[method]]]
    return render_template("api/index.html", doc=doc, operations=operations, base=doc["servers"][0]["url"])
