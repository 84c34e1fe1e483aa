"""The installable app: the web app manifest, the service worker at the site root, the drafts page
and the offline page. What the service worker may keep, and where, is written in static/sw.js and
docs/app.md."""

from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.pwa.icons import BACKGROUND, ICONS, THEME

bp = Blueprint("pwa", __name__)


def _account():  # noqa: ANN202
    """The logged-in account or None: whom the app is shown to (its cache, its shortcuts), never
    what they may open (the pages the manifest names guard themselves)."""
    return current_user if current_user.is_authenticated else None


@bp.app_template_global("pwa_user_marker")
def user_marker() -> str:
    """An opaque, stable name of the logged-in account for the service worker's per-user cache
    ("" when nobody is logged in): the cache of one account is dropped when another one appears."""
    account = _account()
    if account is None:
        return ""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"pwa-user:{account.id}".encode(), hashlib.sha256).hexdigest()[:24]


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest; staff get the "Cảnh báo chờ duyệt" shortcut as well."""
    def icon(name: str) -> dict:
        size, maskable = ICONS[name]
        return {"src": url_for("static", filename=f"app/{name}"), "sizes": f"{size}x{size}",
                "type": "image/png", "purpose": "maskable" if maskable else "any"}

    shortcut_icon = [{"src": url_for("static", filename="app/icon-192.png"), "sizes": "192x192",
                      "type": "image/png"}]
    shortcuts = [
        {"name": _("Gửi phản ánh"), "short_name": _("Gửi phản ánh"), "url": url_for("reports.send_report"),
         "icons": shortcut_icon},
        {"name": _("Tra cứu"), "short_name": _("Tra cứu"), "url": url_for("search.index"), "icons": shortcut_icon},
        {"name": _("PAKN của tôi"), "short_name": _("PAKN của tôi"), "url": url_for("reports.mine"),
         "icons": shortcut_icon},
    ]
    account = _account()
    if account is not None and account.is_staff:
        shortcuts.append({"name": _("Cảnh báo chờ duyệt"), "short_name": _("Chờ duyệt"),
                          "url": url_for("warnings.staff_list"), "icons": shortcut_icon})
    body = {
        "id": "/",
        "name": _("1022 — Phản ánh kiến nghị"),
        "short_name": "1022",
        "description": _("Gửi, theo dõi và tra cứu phản ánh kiến nghị; cán bộ xử lý và phê duyệt cảnh báo."),
        "lang": "vi",
        "dir": "ltr",
        "start_url": url_for("main.home", source="app"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME,
        "background_color": BACKGROUND,
        "categories": ["government", "utilities"],
        "icons": [icon(n) for n in ICONS if n.startswith("icon-")],
        "shortcuts": shortcuts,
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    # The staff shortcut depends on who asks: never a shared cache's copy.
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response


@bp.get("/sw.js")
def service_worker():
    """The service worker, a static file served from the site root so that its scope is the whole site."""
    response = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript",
                                   max_age=0)
    response.headers["Cache-Control"] = "no-cache"  # a new version is picked up on the next visit
    return response


@bp.get("/ban-nhap")
def drafts():
    """The drafts kept on this device (listed by static/js/app.js from IndexedDB; nothing server-side)."""
    return render_template("pwa/drafts.html")


@bp.get("/ngoai-tuyen")
def offline():
    """What the app shows for a page it has not kept while there is no connection."""
    return render_template("pwa/offline.html")
