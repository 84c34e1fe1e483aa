"""The development backends of SMS and mail: one JSON object per line appended to a file."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def append_json_line(path: str | Path, record: dict[str, Any]) -> None:
    """Append ``record`` to ``path`` (created with its folder); raises ``OSError`` on failure."""
    target = Path(path)
    line = json.dumps(record, ensure_ascii=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock, target.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
