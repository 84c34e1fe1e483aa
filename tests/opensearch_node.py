"""Drives the OpenSearch test node (``engines/opensearch``, built by ``make opensearch``).

One :class:`OpenSearchCluster` is one JVM running N nodes of one cluster on free loopback ports;
``stop_node``/``start_node`` take a node down and bring it back (same ports, same data), ``close``
stops them all. Used by the test fixtures, the cluster fault test and ``bench/opensearch.py``.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JAR = ROOT / "engines" / "opensearch" / "target" / "pakn-opensearch.jar"


def unavailable_reason() -> str | None:
    """None when the node can be started here, else why not (in words a developer can act on)."""
    if shutil.which("java") is None:
        return "Java is not installed (OpenSearch test node needs Java 17)"
    if not JAR.exists():
        return f"OpenSearch test node not built: run `make opensearch` ({JAR.relative_to(ROOT)} missing)"
    return None


class OpenSearchCluster:
    """N OpenSearch nodes in one JVM; ``urls[i]`` is node i's HTTP address."""

    def __init__(self, nodes: int = 1, heap: str = "512m", timeout: float = 180.0) -> None:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self._log = tempfile.NamedTemporaryFile(prefix="pakn-opensearch-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)
        self.process = subprocess.Popen(
            ["java", f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseSerialGC" if nodes == 1 else "-XX:+UseG1GC",
             "-jar", str(JAR), "--nodes", str(nodes), "--cluster", f"pakn-test-{os.getpid()}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.urls: list[str] = []
        self._lock = threading.Lock()
        try:
            while True:
                line = self._next_line(timeout)
                if line == "READY":
                    break
                self.urls.append(line)
        except Exception:
            self.close()
            raise

    @property
    def url(self) -> str:
        return self.urls[0]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def _next_line(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"OpenSearch test node silent for {timeout:.0f} s (log: {self.log_path})") from None
        if line is None:
            raise RuntimeError(f"OpenSearch test node exited (log: {self.log_path}):\n{self.log_tail()}")
        return line

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _command(self, text: str, timeout: float = 120.0) -> str:
        with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write(text + "\n")
            self.process.stdin.flush()
            answer = self._next_line(timeout)
        if answer.startswith("ERROR"):
            raise RuntimeError(f"OpenSearch launcher: {text!r} -> {answer}")
        return answer

    def stop_node(self, i: int) -> None:
        """Close node ``i`` (as if its machine went away); the others keep serving."""
        self._command(f"stop {i}")

    def start_node(self, i: int) -> None:
        """Start node ``i`` again on its ports and data folder."""
        self._command(f"start {i}")

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()  # the launcher stops every node and exits
                self.process.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.terminate()
                try:
                    self.process.wait(30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
        self._log.close()
        if self.process.returncode == 0:  # a clean stop: the log is of no more use
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> OpenSearchCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(predicate, timeout: float, interval: float = 0.5):  # noqa: ANN001, ANN201
    """Poll ``predicate`` until it returns something truthy; that value, or None at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
