"""Who may open what is decided in one place: ``webapp/access.py``.

A source scan of ``webapp/``: outside ``webapp/access.py`` no module answers 401/403/404 with
``abort`` for an access decision, checks ``current_user.is_authenticated`` by hand, calls a
resource's visibility rule (``can_view``, ``can_edit``) from a view, or defines a login/staff
decorator; and no feature imports another feature's routes. What remains is the short allow-list
below, each entry with its reason (a file and the function it sits in, so that it survives edits).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from config import PROJECT_ROOT

WEBAPP = PROJECT_ROOT / "webapp"
HOME = "webapp/access.py"

# (file, enclosing function, what) -> why it is not an access decision on a loaded resource.
ALLOWED = {
    ("webapp/auth/routes.py", "login", "is_authenticated"):
        "a logged-in user who opens the login form is sent on to where they were going",
    ("webapp/auth/routes.py", "password_login", "is_authenticated"):
        "a logged-in user who opens the password login form is sent on to where they were going",
    ("webapp/auth/routes.py", "register", "is_authenticated"):
        "a logged-in user who opens the registration form is sent to the home page",
    ("webapp/auth/routes.py", "oidc_start", "abort(404)"):
        "an identity provider that is not configured: no such page",
    ("webapp/auth/routes.py", "oidc_callback", "abort(404)"):
        "an identity provider that is not configured: no such page",
    ("webapp/staff/routes.py", "sign_out_everywhere", "abort(404)"):
        "an admin-only tool (staff_required(ADMIN)); 404 = no account with this id",
    ("webapp/hardening.py", "cache_and_server_headers", "is_authenticated"):
        "not an access decision: an answer to a logged-in user is marked no-store (personal data)",
    ("webapp/pwa/routes.py", "_account", "is_authenticated"):
        "not an access decision: whom the app is shown to (the per-user cache's marker, the staff "
        "shortcut in the manifest); the pages it names are guarded by their own loaders",
    ("webapp/reports/routes.py", "attachment", "abort(404)"):
        "the row was loaded by access.attachment; 404 when its file is missing from disk",
    ("webapp/workflow/routes.py", "templates", "abort(403)"):
        "adding an answer template is a role rule (leaders, admins) on a list page, not a loaded "
        "resource; services.add_template applies the same rule",
}
# Feature modules that still import another feature's routes, for the struct/searchreq helpers of
# issue 14 (import contracts) to remove: (importer, imported module) -> why it is still there.
ALLOWED_ROUTE_IMPORTS: dict[tuple[str, str], str] = {}  # none left: every feature imports only non-route homes
RULES = {"can_view", "can_edit"}  # the visibility rules of reports (staff) and warnings
DECORATORS = {"staff_required", "login_required", "login_required_json"}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(WEBAPP.rglob("*.py")):
        name = path.relative_to(PROJECT_ROOT).as_posix()
        yield name, ast.parse(path.read_text(encoding="utf-8"), filename=name)


def enclosing(tree: ast.Module) -> dict[ast.AST, str]:
    """Each node -> the name of the innermost function around it ("" at module level)."""
    owner: dict[ast.AST, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else name
            owner[child] = inner
            visit(child, inner)

    visit(tree, "")
    return owner


def findings() -> list[tuple[str, str, str, int]]:
    """(file, function, what, line) of every access decision taken outside webapp/access.py."""
    found = []
    for name, tree in modules():
        if name == HOME:
            continue
        owner = enclosing(tree)
        for node in ast.walk(tree):
            what = None
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "abort" and node.args \
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value in (401, 403, 404):
                what = f"abort({node.args[0].value})"
            elif isinstance(node, ast.Attribute) and node.attr == "is_authenticated" \
                    and getattr(node.value, "id", None) == "current_user":
                what = "is_authenticated"
            elif isinstance(node, ast.Call) and name.endswith("routes.py") and (
                    getattr(node.func, "attr", None) in RULES or getattr(node.func, "id", None) in RULES):
                what = "visibility rule in a view"
            elif isinstance(node, ast.FunctionDef) and node.name in DECORATORS:
                what = f"def {node.name}"
            if what:
                found.append((name, owner.get(node, ""), what, node.lineno))
    return found


def test_access_decisions_live_in_webapp_access_only():
    stray = [f"{f}:{line} {what} in {func or 'module'}()" for f, func, what, line in findings()
             if (f, func, what) not in ALLOWED]
    assert stray == [], "decide access in webapp/access.py (a loader or decorator), or add a reasoned " \
                        f"entry to ALLOWED: {stray}"


def test_the_allow_list_is_short_and_every_entry_says_why():
    assert len(ALLOWED) <= 10
    assert all(len(reason) > 20 for reason in ALLOWED.values())


def test_the_home_has_the_decorators_and_a_loader_per_resource():
    from webapp import access

    for name in ("staff_required", "login_required_json", "unauthorized", "staff_report", "own_report",
                 "published_report", "attachment", "staff_answer", "staff_warning", "own_saved_search",
                 "sending_api_key"):
        assert callable(getattr(access, name)), name


def test_no_feature_imports_another_features_routes():
    stray = []
    for name, tree in modules():
        parts = name.split("/")
        if len(parts) < 3:  # webapp/__init__.py, cli.py: the app itself registers every blueprint
            continue
        feature = parts[1]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for module in {".".join(t.split(".")[:3]) for t in targets}:
                bits = module.split(".")
                if len(bits) == 3 and bits[0] == "webapp" and bits[2] == "routes" and bits[1] != feature \
                        and (name, module) not in ALLOWED_ROUTE_IMPORTS:
                    stray.append(f"{name}:{node.lineno} imports {module}")
    assert stray == [], stray


def test_staff_and_workflow_and_warnings_take_the_staff_decorator_from_the_access_layer():
    for name in ("webapp/staff/routes.py", "webapp/workflow/routes.py", "webapp/warnings/routes.py"):
        source = Path(PROJECT_ROOT / name).read_text(encoding="utf-8")
        assert "from webapp.access import staff_required" in source, name
