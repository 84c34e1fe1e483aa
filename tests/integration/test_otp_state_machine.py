"""A hypothesis state machine over the OTP service with a controllable clock.

A simple model of the rules (expiry at 60 s, single use, binding to the newest attempt, 5 tries per
code, 60 s resend cooldown, 5 codes per number per hour, lock after N consecutive failures) predicts
every outcome; the service must agree at every step of every generated sequence.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import g
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from webapp.auth import services
from webapp.auth.models import PhoneGuard
from webapp.auth.services import AuthError

LOCK_AFTER = 12
_numbers = itertools.count(10_000_000)


@dataclass
class PhoneModel:
    sent: list[datetime] = field(default_factory=list)
    challenge: str | None = None
    code: str | None = None
    created: datetime | None = None
    attempts: int = 0
    used: bool = False
    failures: int = 0
    locked: bool = False


def test_otp_rules_hold_in_every_sequence(app, session, clock, monkeypatch):
    monkeypatch.setitem(app.config, "OTP_LOCK_AFTER_FAILURES", LOCK_AFTER)
    monkeypatch.setitem(app.config, "OTP_MAX_PER_IP_HOUR", 10_000)
    cfg = app.config

    class OtpMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            # Fresh numbers for every run: the database is shared by the runs of this test.
            self.phones = [f"09{next(_numbers):08d}" for _ in range(2)]
            self.model = {p: PhoneModel() for p in self.phones}

        def expect(self, fn, expected: str | None):  # noqa: ANN001, ANN201
            try:
                result = fn()
            except AuthError as exc:
                session.commit()
                assert exc.code == expected, f"expected {expected}, got {exc.code}: {exc.message}"
                return None
            session.commit()
            assert expected is None, f"expected {expected}, got success"
            return result

        @rule(i=st.integers(0, 1))
        def request(self, i: int) -> None:
            phone, m = self.phones[i], self.model[self.phones[i]]
            now = clock.now
            recent = [t for t in m.sent if t > now - timedelta(hours=1)]
            if m.locked:
                expected = "otp_locked"
            elif m.sent and now < m.sent[-1] + timedelta(seconds=cfg["OTP_RESEND_SECONDS"]) or len(recent) >= cfg["OTP_MAX_PER_PHONE_HOUR"]:
                expected = "rate_limited"
            else:
                expected = None
            issued = self.expect(lambda: services.request_otp(phone), expected)
            if issued is not None:
                _path, (challenge_id, code) = g.pop("pakn_sync_jobs")[-1]
                m.sent.append(now)
                m.challenge, m.code, m.created, m.attempts, m.used = challenge_id, code, now, 0, False

        @rule(i=st.integers(0, 1), right=st.booleans())
        def verify(self, i: int, right: bool) -> None:
            m = self.model[self.phones[i]]
            if m.challenge is None:
                return
            code = m.code if right else ("000000" if m.code != "000000" else "111111")
            if m.used:
                expected = "otp_expired"
            elif m.locked or m.attempts >= cfg["OTP_MAX_ATTEMPTS"]:
                expected = "otp_locked"
            elif clock.now >= m.created + timedelta(seconds=cfg["OTP_TTL_SECONDS"]):
                expected = "otp_expired"
            elif right:
                expected = None
            else:
                m.attempts += 1
                m.failures += 1
                if m.failures >= LOCK_AFTER:
                    m.locked = True
                expected = "otp_locked" if (m.locked or m.attempts >= cfg["OTP_MAX_ATTEMPTS"]) else "otp_invalid"
            result = self.expect(lambda: services.verify_otp(m.challenge, code), expected)
            if result is not None:
                m.used = True
                m.failures = 0

        @rule(i=st.integers(0, 1))
        def verify_with_a_stale_attempt(self, i: int) -> None:
            """A code of an older attempt for the same number never works once a newer one exists."""
            m = self.model[self.phones[i]]
            if m.challenge is None or len(m.sent) < 2:
                return
            self.expect(lambda: services.verify_otp("not-the-current-attempt", m.code), "otp_expired")

        @rule(seconds=st.sampled_from([1, 20, 59, 61, 600, 3600]))
        def wait(self, seconds: int) -> None:
            clock.advance(seconds=seconds)

        @rule(i=st.integers(0, 1))
        def officer_unlocks(self, i: int) -> None:
            phone, m = self.phones[i], self.model[self.phones[i]]
            unlocked = services.unlock_phone(phone, None)
            session.commit()
            assert unlocked == m.locked
            m.locked, m.failures = False, 0

        @invariant()
        def lock_state_agrees(self) -> None:
            if not hasattr(self, "phones"):
                return
            for phone in self.phones:
                guard = session.get(PhoneGuard, phone)
                assert (guard is not None and guard.locked_at is not None) == self.model[phone].locked

    OtpMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None,
                                            suppress_health_check=list(HealthCheck))
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.0.0.1"}):
        OtpMachine.TestCase().runTest()
