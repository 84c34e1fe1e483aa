"""Locust users for bench/load.py: citizens and journalists on the public portal.

The mix per user action: search 70 % (Tra cứu: keywords with and without diacritics, some with
a filter, some on page 2, some filters only), report pages 20 %, sends 5 % (the send form, then
the POST of a filled form by a user logged in by OTP), exports 5 % (the CSV of a search).
Between two actions a user waits 1–3 s. The plan (published codes, fields, wards, the SMS file
to read OTP codes from) comes from the JSON file named by ``LOAD_PLAN``; bench/load.py writes it.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from itertools import count
from pathlib import Path

from locust import FastHttpUser, task

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text(encoding="utf-8"))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
IDEMPOTENCY = re.compile(r'name="idempotency_key"[^>]*value="([^"]+)"')
_numbers = count(1)
# Zipf weights over the queries (most popular first): the n-th is chosen with weight 1/n.
WEIGHTS = [1 / (n + 1) for n in range(len(PLAN["queries"]))]


class LoginError(RuntimeError):
    """Counted by Locust as an error of the task (bench/load.py adds it to the error rate); the
    user tries to log in again at its next send."""


def _hidden(pattern: re.Pattern[str], html: str) -> str:
    found = pattern.search(html)
    if not found:
        raise ValueError(f"no {pattern.pattern!r} in the page")
    return found.group(1)


class PortalUser(FastHttpUser):
    def on_start(self) -> None:
        number = next(_numbers)
        # Each user's draws (actions, queries, pauses) come from a seed of its own, so that two runs
        # of the load test send the same requests: what differs between them is the code served
        # and the machine, not which exports of tens of thousands of rows happened to be drawn.
        self.rng = random.Random(f"{os.environ.get('LOAD_SEED', 'pakn')}-{number}")
        # A number of its own per user and per run (the OTP rules allow one code a minute per number).
        self.phone = f"091{PLAN['phone_prefix']}{os.environ.get('LOAD_RUN', '0')}{number:03d}"
        self.logged_in = False

    def wait_time(self) -> float:
        # LOAD_NO_WAIT: the baseline run, one user acting back to back.
        return 0.0 if os.environ.get("LOAD_NO_WAIT") else self.rng.uniform(1, 3)

    # -- the mix --------------------------------------------------------------------------------
    @task
    def act(self) -> None:
        """One action of the mix, drawn from the user's own seed (Locust's own choice of task
        draws from the process's shared random state)."""
        action = self.rng.choices((self.search, self.report_page, self.send, self.export), (70, 20, 5, 5))[0]
        action()

    def search(self) -> None:
        params = self._search_params()
        with self.client.get("/tra-cuu", params=params, name="search", catch_response=True) as resp:
            if resp.status_code != 200 or "result" not in (resp.text or ""):
                resp.failure(f"status {resp.status_code}")

    def report_page(self) -> None:
        code = self.rng.choice(PLAN["codes"])
        with self.client.get(f"/pakn/{code}", name="report page", catch_response=True) as resp:
            if resp.status_code != 200 or code not in (resp.text or ""):
                resp.failure(f"status {resp.status_code}")

    def send(self) -> None:
        if not self.logged_in:
            self._login()
        with self.client.get("/gui-phan-anh", name="send: form", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
                return
            html = resp.text or ""
        n = self.rng.randint(1, 400)
        street = self.rng.choice(PLAN["streets"])
        form = {
            "csrf_token": _hidden(CSRF, html), "idempotency_key": _hidden(IDEMPOTENCY, html),
            "title": f"Đèn đường hỏng trước số {n} đường {street}",
            "content": f"Đèn chiếu sáng trước số {n} đường {street} không sáng ba đêm nay, người đi "
                       "đường rất nguy hiểm. Đề nghị kiểm tra, sửa chữa sớm.",
            "field": self.rng.choice(PLAN["fields"]), "ward": str(self.rng.choice(PLAN["wards"])),
            "address": f"Số {n} đường {street}", "sender_kind": "individual",
            "sender_name": "Người dùng thử tải", "sender_phone": self.phone,
        }
        with self.client.post("/gui-phan-anh", data=form, name="send", catch_response=True) as resp:
            if resp.status_code != 200 or "/da-gui/" not in str(resp.url):
                resp.failure(f"status {resp.status_code}, ended at {resp.url}")
                return
        # The tracking code the user was shown, for bench/load.py to find in the database.
        with open(PLAN["sent_file"], "a", encoding="utf-8") as fh:
            fh.write(str(resp.url).rstrip("/").rsplit("/", 1)[-1] + "\n")

    def export(self) -> None:
        params = {"q": self._query()}
        if self.rng.random() < 0.5:
            params["field"] = self.rng.choice(PLAN["fields"])
        # LOAD_EXPORT_URL: the export pool (bench/load.py --export-workers), as a proxy would route it.
        url = os.environ.get("LOAD_EXPORT_URL", "") + "/api/v1/reports.csv"
        with self.client.get(url, params=params, name="export", catch_response=True) as resp:
            body = resp.content or b""
            if resp.status_code != 200 or not body.startswith(b"\xef\xbb\xbfcode,"):
                resp.failure(f"status {resp.status_code}")

    # -- helpers --------------------------------------------------------------------------------
    def _search_params(self) -> dict[str, str]:
        roll = self.rng.random()
        q = self._query()
        if roll < 0.55:
            return {"q": q}
        if roll < 0.75:
            return {"q": q, "field": self.rng.choice(PLAN["fields"])}
        if roll < 0.85:
            return {"q": q, "page": "2"}
        if roll < 0.93:
            return {"q": q, "region": str(self.rng.choice(PLAN["wards"]))}
        return {"field": self.rng.choice(PLAN["fields"]), "from": "2025-07-01", "to": "2026-06-30"}

    def _query(self) -> str:
        return self.rng.choices(PLAN["queries"], WEIGHTS)[0]

    def _login(self) -> None:
        """OTP login as a citizen: the code is read from the SMS file backend, as a user reads it."""
        page = self.client.get("/dang-nhap", name="login")
        self.client.post("/dang-nhap", data={"csrf_token": _hidden(CSRF, page.text or ""), "phone": self.phone},
                         name="login")
        code = self._await_code()
        page = self.client.get("/dang-nhap/ma", name="login")
        resp = self.client.post("/dang-nhap/ma", data={"csrf_token": _hidden(CSRF, page.text or ""), "code": code},
                                name="login")
        if resp.status_code != 200 or "/dang-nhap" in str(resp.url):
            raise LoginError(f"login failed for {self.phone}: {resp.status_code}")
        self.logged_in = True

    def _await_code(self) -> str:
        deadline = time.monotonic() + 20
        sms = Path(PLAN["sms_file"])
        while time.monotonic() < deadline:
            if sms.exists():
                for line in reversed(sms.read_text(encoding="utf-8").splitlines()):
                    message = json.loads(line)
                    if message["to"] == self.phone:
                        found = re.search(r"\b(\d{6})\b", message["text"])
                        if found:
                            return found.group(1)
            time.sleep(0.2)
        raise LoginError(f"no OTP SMS for {self.phone}")
