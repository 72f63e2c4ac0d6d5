"""The benchmark: DynamoDB calls and capacity units per operation, validation overhead, login
round trips and cost, cold start, scale, package size, import throughput, and what it all costs
on AWS against Amazon Cognito, measured on DynamoDB Local in one run.

    python -m bench            # the full run (`make bench`), about two minutes on 2 cores
    python -m bench --quick    # tiny sizes: proves the code runs (the test suite uses it)

Every timing is the median of many repetitions after a warm-up, with the 10th-90th percentile
spread. Timings that form a ratio are taken alternately in one loop, so load on the machine
hits them alike.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import io
import itertools
import json
import logging
import math
import os
import platform
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import requests
from chalice.cli.factory import CLIFactory

from bench import report
from bench.capacity import TableShape, Units, priced, reported
from bench.chart import Series, cost_chart
from bench.cost import CHECKED, CostModel, EventWork, Inputs, Profile, Work, events_cost
from bench.events import api_event
from bench.report import Table, Timing, render, spread, to_json, usd
from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.oauth import Http
from chalicelib.passwords import PasswordHasher
from chalicelib.sessions import token_digest
from chalicelib.store import CLIENT_CONFIG, TABLE_DEFINITION, create_table
from chalicelib.store.accounts import UserRecord, claim_pk, user_pk
from chalicelib.store.counters import counter_pk
from chalicelib.store.sessions import SessionRecord, session_pk
from devtools.calls import CallRecorder
from devtools.dynamodb_local import ROOT, DynamoDBLocal, find_jar, local_aws_env
from devtools.oidc_local import LocalOpenIDProvider, sign_in
from devtools.outbox import Outbox
from devtools.stage import local_dev_environment, stage_environment

DAY = 86_400
PASSWORD = "correct horse battery staple"  # noqa: S105 (a benchmark account)
OUT_DIR = ROOT / ".bench"
CHART = ROOT / "docs" / "cost-vs-cognito.svg"
CLIENT_IP = "203.0.113.10"
ORIGIN = "http://localhost:8000"  # PUBLIC_ORIGIN, as `make dev` sets it
OTHER_IP = "198.51.100.23"  # the wrong password's: no later login reads its failure counter
# A current desktop browser's: each session stores its client's User-Agent, so it counts in
# the item's size (write units, storage).
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)

# Alternatives to the default Argon2id cost (19456 KiB, t=2, p=1), from OWASP's equivalent
# recommendations: more memory and one pass, or less memory and more passes.
ARGON2_ALTERNATIVES = ((47104, 1, 1), (12288, 3, 1))

TOKEN_ISSUE = "access token (POST /auth/token)"  # noqa: S105 (a row label)
UNIT_COLUMNS = ("operation", "calls", "read, table", "read, index", "write, table", "write, index")

# Where DynamoDB Local's ConsumedCapacity departs from AWS's rules (see bench/capacity.py).
LOCAL_DIFFERENCES = {
    "BatchGetItem": "a BatchGetItem charged for the keys it found only",
    "TransactWriteItems": "a TransactWriteItems counting one item per index footprint",
}

# The targets the README states (Performance); each shown as met or not.
VALIDATION_TARGET = 1.25  # app GET /auth/session / one raw GetItem
LOGIN_TARGET = 2.5  # (login - argon2 verify) / one raw GetItem
COLD_START_TARGET = 1.15  # app cold start / chalice + boto3 + one GetItem
IMPORT_TARGET = 1.20  # time per user: devtools.users import / raw TransactWriteItems
IMPORT_CHUNK = 50  # users per timed run, each way in turn

# Section 1's calls and write units (table + indexes) of these operations in the run before
# events existed (make bench, 2026-12-06, commit 88d26d8): events must leave them as they were.
BEFORE_EVENTS = {
    "signup": (5, 18.0),
    "login, no session cookie": (2, 6.0),
    "code sign-in": (2, 10.0),
    "logout": (1, 2.0),
}


@dataclass(frozen=True)
class Sizes:
    reps: int  # timed repetitions per latency figure
    warmup: int
    login_reps: int
    login_warmup: int
    argon2_reps: int
    cold_pairs: int  # fresh processes per side, app and baseline alternately
    scale: tuple[int, ...]  # sessions in the table
    listing: tuple[int, ...]  # sessions of one user
    users: tuple[int, ...] = (1_000, 100_000)  # users for the admin's search
    imported: int = 400  # users imported each way (section 11)


FULL = Sizes(
    reps=300,
    warmup=50,
    login_reps=80,
    login_warmup=80,
    argon2_reps=10,
    cold_pairs=30,
    scale=(1_000, 10_000, 100_000),
    listing=(1, 50),
)
QUICK = Sizes(
    reps=5,
    warmup=2,
    login_reps=3,
    login_warmup=1,
    argon2_reps=2,
    cold_pairs=2,
    scale=(10, 30),
    listing=(1, 3),
    users=(20, 60),
    imported=40,
)


class ShiftedClock:
    """The real clock, moved forward on demand: to reach an interval without waiting."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        return int(time.time()) + self.offset

    @contextmanager
    def shifted(self, seconds: int) -> Iterator[None]:
        self.offset = seconds
        try:
            yield
        finally:
            self.offset = 0


class CountingHttp(Http):
    """The providers' HTTP client, noting each call (the benchmark counts a callback's)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, url: str, headers: Any = None) -> tuple[int, Any]:
        self.calls.append(f"GET {urlsplit(url).path}")
        return super().get(url, headers)

    def post(self, url: str, form: Any, headers: Any = None) -> tuple[int, Any]:
        self.calls.append(f"POST {urlsplit(url).path}")
        return super().post(url, form, headers)


class Bench:
    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self.device: str | None = None  # the device cookie this "browser" holds, once known
        self.table = f"bench-{uuid.uuid4().hex[:8]}"
        self.client = boto3.client("dynamodb", config=CLIENT_CONFIG)
        create_table(self.client, self.table)
        # What `make dev` adds to the stage: the outbox and keyring, here in a scratch folder,
        # and the local OpenID Provider (the events carry the /api stage prefix).
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-"))
        self.local = local_dev_environment(
            ORIGIN, self.scratch / "outbox", self.scratch / "totp-keys.json"
        )
        self.provider = LocalOpenIDProvider([f"{ORIGIN}/api/auth/oauth/local/callback"]).start()
        env = {
            **stage_environment("local"),
            **self.local,
            **self.provider.settings_environment(),
            "TABLE_NAME": self.table,
        }
        self.settings = Settings.from_env(env)
        self.clock = ShiftedClock()
        self.provider_http = CountingHttp()
        self.services = runtime.build(
            self.settings, client=self.client, clock=self.clock, provider_http=self.provider_http
        )
        runtime.use(self.services)
        # What the sections measure for the ones after them and for the cost model.
        self.calls: dict[str, list[str]] = {}
        self.units: dict[str, Units] = {}
        self.timings: dict[str, Timing] = {}
        self.stored: dict[str, int] = {}
        # Hundreds of sign-ins would flood the output with audit lines.
        self._audit_logger = logging.getLogger("session_auth.audit")
        self._audit_level = self._audit_logger.level
        self._audit_logger.setLevel(logging.WARNING)
        from app import app

        self.app = app

    def close(self) -> None:
        self._audit_logger.setLevel(self._audit_level)
        runtime.use(None)
        self.provider.stop()
        self.client.delete_table(TableName=self.table)
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- requests through the app, as Lambda would call it ------------------------------------

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        **options: str,
    ) -> dict:
        return self.app(self.event(method, path, token, body, **options), None)

    def event(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        *,
        ip: str = CLIENT_IP,
        resource: str | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"user-agent": USER_AGENT}
        cookies = [f"auth_session={token}"] if token else []
        if self.device is not None:  # a browser that signed in here before (throttle.py)
            cookies.append(f"device={self.device}")
        if cookies:
            headers["cookie"] = "; ".join(cookies)
        return api_event(method, path, headers, body, ip=ip, resource=resource, query=query)

    def sign_up(self, email: str, *, verified: bool = True) -> str:
        """A new account's session; its address verified with the mailed code (as most are)
        unless `verified=False`."""
        response = self.request("POST", "/auth/signup", body={"email": email, "password": PASSWORD})
        _expect(response, 201)
        token = _token(response)
        if not verified:
            return token
        code = Outbox(self.scratch / "outbox").code(email)
        response = self.request("POST", "/auth/email/verify", token, body={"code": code})
        _expect(response, 200)
        return _token(response)

    def social_callback(self, email: str) -> dict[str, Any]:
        """The callback event of a social sign-in of `email` at the local provider: the start
        through the app, the provider's forms as a person fills them."""
        start = self.request("GET", "/auth/oauth/local", resource="/auth/oauth/{provider}")
        _expect(start, 303)
        attempt = start["multiValueHeaders"]["Set-Cookie"][-1].split(";", 1)[0]
        callback = sign_in(requests.Session(), start["headers"]["Location"], email, ORIGIN)
        query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        event = self.event(
            "GET",
            "/auth/oauth/local/callback",
            resource="/auth/oauth/{provider}/callback",
            query=query,
        )
        event["headers"]["cookie"] = attempt
        event["multiValueHeaders"]["cookie"] = [attempt]
        return event

    def ask_for_code(self, email: str) -> str:
        """A sign-in code mailed to `email` (into the scratch outbox), and read back."""
        _expect(self.request("POST", "/auth/login/code", body={"email": email}), 202)
        return Outbox(self.scratch / "outbox").code(email)

    def sign_in_with_code(self, email: str, code: str, status: int) -> str:
        body = {"email": email, "code": code}
        response = self.request("POST", "/auth/login/code/verify", body=body)
        _expect(response, status)
        return _token(response)

    def log_in(self, email: str, token: str | None = None) -> str:
        """A password login; a browser new to the account keeps the device cookie it gets."""
        body = {"email": email, "password": PASSWORD}
        response = self.request("POST", "/auth/login", token, body=body)
        _expect(response, 200)
        self.device = _cookie(response, "device") or self.device
        return _token(response)

    # -- 1. store calls and capacity units per operation ----------------------------------------

    def store_calls_and_capacity(self) -> dict[str, Any]:
        """One user's story, operation by operation: the calls each makes and the capacity
        units they consume, priced by AWS's rules (bench/capacity.py) on the real items."""
        shape = TableShape.of(TABLE_DEFINITION)
        rows: dict[str, tuple[Any, ...]] = {}
        differing: dict[str, str] = {}
        email = f"units-{uuid.uuid4().hex[:6]}@example.com"
        lifetime = int(self.settings.session_lifetime.total_seconds())
        interval = int(self.settings.session_activity_interval.total_seconds())

        with CallRecorder(self.client, capacity=True) as recorder:

            def measure(label: str, action: Callable[[], Any]) -> Any:
                recorder.clear()
                result = action()
                if len(recorder.measured) != len(recorder.calls):
                    raise RuntimeError(f"{label}: a call went unmeasured")
                units = sum((priced(call, shape) for call in recorder.measured), Units())
                said = sum((reported(call) for call in recorder.measured), Units())
                self.calls[label] = recorder.operations
                self.units[label] = units
                rows[label] = (recorder.operations, *units)
                if said != units:
                    why = {
                        LOCAL_DIFFERENCES.get(call.operation, f"{call.operation} differs")
                        for call in recorder.measured
                        if reported(call) != priced(call, shape)
                    }
                    differing[label] = (
                        f"reads {said.read_table:g} + {said.read_index:g}, writes "
                        f"{said.write_table:g} + {said.write_index:g} ({'; '.join(sorted(why))})"
                    )
                return result

            token = measure("signup", lambda: self.sign_up(email, verified=False))
            code = Outbox(self.scratch / "outbox").code(email)  # verified, as most accounts are
            _expect(self.request("POST", "/auth/email/verify", token, body={"code": code}), 200)
            # A browser's first right password makes it known to the account: the claim
            # records it, in the session's transaction. Later logins from it write nothing else.
            self.device = None
            first = measure(
                "login, a new browser (device cookie issued)", lambda: self.log_in(email)
            )
            _expect(self.request("POST", "/auth/logout", first), 204)
            cookie = measure("login, no session cookie", lambda: self.log_in(email))
            token = measure("login with a session cookie", lambda: self.log_in(email, cookie))
            measure("wrong password", lambda: self.wrong_password(email))
            measure("protected request, steady state", lambda: self.protected(token))
            measure("protected request, bearer token", lambda: self.protected_by_bearer(token))
            measure("access token (POST /auth/token)", lambda: self.access_token(token))
            with self.clock.shifted(interval + 1):  # last_used_at is an interval old
                measure("protected request, activity refresh", lambda: self.protected(token))
            with self.clock.shifted(lifetime // 2 + DAY):  # past half of the lifetime
                measure("protected request, extends the session", lambda: self.protected(token))
            listed = measure("list sessions (2 of them)", lambda: self.list_sessions(token))
            if len(listed) != 2:  # sign-up's and this one: the login with a cookie replaced one
                raise RuntimeError(f"expected 2 sessions, listed {len(listed)}")
            other = next(s["id"] for s in listed if not s["current"])
            measure("revoke one session", lambda: self.revoke(token, other))
            self.log_in(email)
            self.log_in(email)
            measure("revoke the other sessions (2)", lambda: self.revoke(token))
            measure("logout", lambda: _expect(self.request("POST", "/auth/logout", token), 204))
            # An emailed code: asking is outside the story's units (mail-bound, rare).
            newcomer = f"code-{uuid.uuid4().hex[:6]}@example.com"
            code = self.ask_for_code(newcomer)
            measure(
                "code sign-up (no password)",
                lambda: self.sign_in_with_code(newcomer, code, 201),
            )
            code = self.ask_for_code(newcomer)
            measure("code sign-in", lambda: self.sign_in_with_code(newcomer, code, 200))
            # Social sign-in: a newcomer first (discovery and the keys fetched, the account
            # made), then a known identity's callback, warm, with the provider calls it makes.
            social = f"social-{uuid.uuid4().hex[:6]}@example.com"
            _expect(self.app(self.social_callback(social), None), 303)
            event = self.social_callback(social)
            self.provider_http.calls.clear()
            measure(
                "social sign-in, a known identity (the callback)",
                lambda: _expect(self.app(event, None), 303),
            )
            self.provider_calls = list(self.provider_http.calls)

        self.stored = self._stored_sizes(email, shape)
        steady = "protected request, steady state"
        bearer = "protected request, bearer token"
        targets = {
            "steady state: 1 call (GetItem), no write": (
                self.calls[steady] == ["GetItem"] and self.units[steady].writes == 0
            ),
            "bearer token: 1 call (GetItem), no write": (
                self.calls[bearer] == ["GetItem"] and self.units[bearer].writes == 0
            ),
            "access token: 1 call (GetItem), no write": (
                self.calls[TOKEN_ISSUE] == ["GetItem"] and self.units[TOKEN_ISSUE].writes == 0
            ),
        }
        for what in ("activity refresh", "extends the session"):
            units = self.units[f"protected request, {what}"]
            targets[f"{what}: exactly 1 write unit, none on the index"] = (
                units.write_table == 1 and units.write_index == 0
            )
        return {
            "units per operation": Table(UNIT_COLUMNS, rows),
            "where DynamoDB Local reports otherwise": differing
            or {"every operation": "as the rules price it"},
            "targets": targets,
            "all targets met": all(targets.values()),
            "stored bytes (overheads included)": self.stored,
        }

    def wrong_password(self, email: str) -> None:
        body = {"email": email, "password": "not the password"}
        _expect(self.request("POST", "/auth/login", body=body, ip=OTHER_IP), 401)

    def protected(self, token: str) -> None:
        _expect(self.request("GET", "/trainings", token), 200)

    def protected_by_bearer(self, token: str) -> None:
        event = self.event("GET", "/trainings")
        event["headers"]["authorization"] = f"Bearer {token}"
        event["multiValueHeaders"]["authorization"] = [f"Bearer {token}"]
        _expect(self.app(event, None), 200)

    def access_token(self, token: str) -> str:
        response = self.request("POST", "/auth/token", token)
        _expect(response, 200)
        return str(json.loads(response["body"])["access_token"])

    def list_sessions(self, token: str) -> list[dict[str, Any]]:
        response = self.request("GET", "/auth/sessions", token)
        _expect(response, 200)
        return json.loads(response["body"])["sessions"]

    def revoke(self, token: str, session_id: str | None = None) -> None:
        """Revoke one session by its id, or without one every session but the caller's."""
        if session_id is None:
            response = self.request("DELETE", "/auth/sessions", token)
        else:
            path, resource = f"/auth/sessions/{session_id}", "/auth/sessions/{session_id}"
            response = self.request("DELETE", path, token, resource=resource)
        _expect(response, 204)

    def _stored_sizes(self, email: str, shape: TableShape) -> dict[str, int]:
        """Storage per session and per account, from the items a login leaves in the table."""
        token = self.log_in(email)

        def item(pk: str) -> dict[str, Any]:
            key = {"pk": {"S": pk}}
            return self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"]

        session = item(session_pk(token_digest(token)))
        user = item(user_pk(session["session_user_id"]["S"]))
        return {
            "session (item and index entry)": shape.stored_bytes(session),
            "account (user item and email claim)": (
                shape.stored_bytes(user) + shape.stored_bytes(item(claim_pk(email)))
            ),
        }

    # -- 10. events --------------------------------------------------------------------------------

    # A monthly active user's events as Profile has them: a session.created per login, and one
    # change to the account (an address verified, a password changed, a passkey added).

    def events(self) -> dict[str, Any]:
        """What events cost. On a request, nothing: the stream carries the change itself, so
        section 1's calls and write units are those of the run before events (BEFORE_EVENTS).
        Per event, the consumer's calls and units, measured by handing it everything section
        1's story wrote, read from DynamoDB Local's stream as Lambda reads it."""
        from chalicelib.events.consumer import consume
        from devtools.streams import StreamReader

        requests_rows = {}
        for label, (calls, writes) in BEFORE_EVENTS.items():
            after = self.units[label]
            requests_rows[label] = (calls, writes, len(self.calls[label]), after.writes)
        shape = TableShape.of(TABLE_DEFINITION)
        stored: list[str] = []

        def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
            started = time.perf_counter_ns()
            answer = consume(
                self.services, event["Records"], on_event=lambda e: stored.append(e.id)
            )
            elapsed.append(time.perf_counter_ns() - started)
            return answer

        elapsed: list[int] = []
        with CallRecorder(self.client, capacity=True) as recorder:
            reader = StreamReader(self.table, handler=handler, dynamodb=self.client)
            records = reader.poll()
            measured = [c for c in recorder.measured if c.operation != "DescribeTable"]
            units = sum((priced(call, shape) for call in measured), Units())
            operations = sorted({c.operation for c in measured})
        events = len(stored)
        if not events or reader.failed:
            raise RuntimeError(f"the consumer stored {events} events, {len(reader.failed)} failed")
        one = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": f"EVENT#{stored[0]}"}}, ConsistentRead=True
        )["Item"]
        per_event = Units(*(value / events for value in units))
        self.event_work = EventWork(per_event, shape.stored_bytes(one), sum(elapsed) / 1e6 / events)
        per_user = Profile().logins + 1
        costs = {
            f"{mau:,} MAU": tuple(
                usd(v) if k != "events" else report.count(v)
                for k, v in events_cost(self.event_work, per_user, mau).items()
            )
            for mau in (10_000, 100_000, 1_000_000)
        }
        return {
            "requests, before and after (calls, write units)": Table(
                ("operation", "calls before", "writes before", "calls after", "writes after"),
                requests_rows,
            ),
            "targets": {
                "no request pays for events (calls and write units unchanged)": all(
                    row[0] == row[2] and row[1] == row[3] for row in requests_rows.values()
                ),
                "login: still 2 round trips": len(self.calls["login, no session cookie"]) == 2,
                "protected request: 1 GetItem, no write": (
                    self.calls["protected request, steady state"] == ["GetItem"]
                ),
            },
            "consumer": {
                "stream records": records,
                "events": events,
                "calls": ", ".join(operations),
                "per event: read units": round(per_event.reads, 2),
                "per event: write units (table + indexes)": (
                    f"{per_event.write_table:g} + {per_event.write_index:g}"
                ),
                "an event stored, bytes (item and index entries)": self.event_work.stored_bytes,
                "handler ms per event (median batch, this machine)": round(
                    self.event_work.consumer_ms, 2
                ),
            },
            f"a month of events, one webhook, {per_user} per MAU (its logins', one change)": Table(
                ("per", "events", "DynamoDB", "Lambda", "SQS"), costs
            ),
        }

    # -- 11. import --------------------------------------------------------------------------------

    def imports(self) -> dict[str, Any]:
        """Users a second through devtools.users's import (each line checked, its hash's shape
        validated, one transaction, reported) against raw TransactWriteItems of the same items
        written by hand, on the same table, one worker each: what our code adds per user.
        Alternately, IMPORT_CHUNK users each way, after one chunk each of warm-up. Each run of
        the import also ends with its one HASHFORMATS read and write (counted: a real run does
        it once for all its users, so this overstates it)."""
        from chalicelib import imports
        from devtools.sources import SourceLine
        from devtools.users import Importer

        store, now = self.services.store, int(time.time())
        hashed = PasswordHasher(self.settings).hash(PASSWORD)  # not verified on import
        batch = itertools.count()

        def record(n: int, way: str) -> dict[str, Any]:
            return {
                "email": f"import-{way}-{n:05d}@example.com",
                "email_verified": True,
                "created_at": "2024-03-01T12:00:00Z",
                "password": {"format": "argon2", "hash": hashed},
                "identities": [{"issuer": "https://accounts.google.com", "subject": f"{way}{n}"}]
                if n % 3 == 0
                else [],
                "roles": [],
                "source_id": f"bench|{way}|{n}",
            }

        def chunk() -> tuple[list[SourceLine], list[list[dict[str, Any]]]]:
            first = next(batch) * IMPORT_CHUNK
            ours = [SourceLine(k, record(first + k, "ours"), None) for k in range(IMPORT_CHUNK)]
            raw = []
            for k in range(IMPORT_CHUNK):
                user = imports.parse(record(first + k, "raw"), settings=self.settings, now=now)
                writes = imports.writes(store, user, None, now)
                raw.append([{w.action: {"TableName": self.table, **w.params}} for w in writes])
            return ours, raw

        ours_ns: list[int] = []
        raw_ns: list[int] = []
        rounds = max(1, self.sizes.imported // IMPORT_CHUNK)

        def through_import(lines: list[SourceLine]) -> int:
            importer = Importer(
                store, self.settings, now=now, keyring=lambda: self.services.keys.keyring
            )
            started = time.perf_counter_ns()
            summary = importer.run(lines, io.StringIO())
            elapsed = time.perf_counter_ns() - started
            if summary.imported != IMPORT_CHUNK:
                raise RuntimeError(f"the import brought {summary.imported} of {IMPORT_CHUNK}")
            return elapsed

        def raw_transactions(raw: list[list[dict[str, Any]]]) -> int:
            started = time.perf_counter_ns()
            for items in raw:
                self.client.transact_write_items(TransactItems=items)
            return time.perf_counter_ns() - started

        for round_ in range(rounds + 1):  # the first round warms up
            lines, raw = chunk()
            # Each goes first in every other round: neither always meets the table warmer.
            if round_ % 2:
                ours, theirs = through_import(lines), raw_transactions(raw)
            else:
                theirs, ours = raw_transactions(raw), through_import(lines)
            if round_:
                ours_ns.append(ours)
                raw_ns.append(theirs)
        users = rounds * IMPORT_CHUNK
        ours_time = Timing.of([t // IMPORT_CHUNK for t in ours_ns])
        raw_time = Timing.of([t // IMPORT_CHUNK for t in raw_ns])
        ratio = sum(ours_ns) / sum(raw_ns)
        return {
            "users each way": users,
            "devtools.users import, users a second": round(users / (sum(ours_ns) / 1e9)),
            "raw TransactWriteItems, same items, users a second": round(
                users / (sum(raw_ns) / 1e9)
            ),
            "per user, import": ours_time,
            "per user, raw": raw_time,
            "ratio import / raw (time per user)": ratio,
            "target": IMPORT_TARGET,
            "target met": ratio <= IMPORT_TARGET,
            **self._first_sign_in(store, now),
            **self._verify_times(),
        }

    def _first_sign_in(self, store: Any, now: int) -> dict[str, Any]:
        """An imported bcrypt user's first sign-in, which upgrades the hash, and their second:
        the store calls of each (the upgrade rides in the session's transaction)."""
        from chalicelib import password_formats
        from devtools.sources import SourceLine
        from devtools.users import Importer

        email = f"upgrade-{uuid.uuid4().hex[:6]}@example.com"
        record = {
            "email": email,
            "email_verified": True,
            "source_id": f"bench|upgrade|{email}",
            "password": dict(
                zip(
                    ("format", "hash", "params"),
                    password_formats.describe(password_formats.make("bcrypt", PASSWORD)),
                    strict=True,
                )
            ),
        }
        importer = Importer(
            store, self.settings, now=now, keyring=lambda: self.services.keys.keyring
        )
        if importer.run([SourceLine(1, record, None)], io.StringIO()).imported != 1:
            raise RuntimeError("the bcrypt user was not imported")
        found = {}
        with CallRecorder(self.client) as recorder:
            for label in ("first sign-in (bcrypt, upgraded)", "second sign-in (argon2id)"):
                recorder.clear()
                self.device = None
                self.log_in(email)
                found[label] = recorder.operations
        upgrading = found["first sign-in (bcrypt, upgraded)"]
        return {
            "store calls of a first sign-in that upgrades, and the next": found,
            "a first sign-in that upgrades: 2 round trips": len(upgrading) == 2,
        }

    def _verify_times(self) -> dict[str, Any]:
        """How long checking a password takes for each imported format, made with its origin's
        default cost, beside our Argon2id with this stage's parameters, timed in turn: what a
        failed sign-in waits out while the stage holds users of the slowest."""
        from chalicelib import password_formats

        ours = PasswordHasher(self.settings)
        native = ours.hash(PASSWORD)
        stored = {name: password_formats.make(name, PASSWORD) for name in password_formats.FORMATS}
        checks = [lambda: ours.verify(native, PASSWORD)] + [
            (lambda s=s: password_formats.verify(s, PASSWORD)) for s in stored.values()
        ]
        times = self._alternate(checks, self.sizes.argon2_reps, warmup=1)
        base = times[0].median_ms
        each = dict(zip(stored, times[1:], strict=True))
        return {
            "verify time, our argon2id (ms)": _figure(base),
            "verify time of each format made with its origin's defaults (ms)": {
                name: _figure(t.median_ms) for name, t in each.items()
            },
            "verify time / our argon2id": {
                name: _figure(t.median_ms / base) for name, t in each.items()
            },
        }

    # -- 2. validation overhead -------------------------------------------------------------------

    def validation_overhead(self) -> dict[str, Any]:
        steady = self.sign_up(f"overhead-{uuid.uuid4().hex[:6]}@example.com")
        refreshing = self.sign_up(f"refresh-{uuid.uuid4().hex[:6]}@example.com")
        native = self.sign_up(f"bearer-{uuid.uuid4().hex[:6]}@example.com")
        key = {"pk": {"S": session_pk(token_digest(steady))}}
        steady_event = self.event("GET", "/auth/session", steady)
        refresh_event = self.event("GET", "/auth/session", refreshing)
        # The same kind of session, presented as a native app does: no cookie, a bearer token.
        bearer_event = self.event("GET", "/auth/session")
        bearer_event["headers"]["authorization"] = f"Bearer {native}"
        bearer_event["multiValueHeaders"]["authorization"] = [f"Bearer {native}"]
        # Each refreshing request comes one activity interval after the last, so each writes;
        # 350 of them stay under the half-life, so none extends.
        step = int(self.settings.session_activity_interval.total_seconds()) + 1
        shifts = itertools.count(1)

        def through_app() -> None:
            _expect(self.app(steady_event, None), 200)

        def refreshed() -> None:
            with self.clock.shifted(next(shifts) * step):
                _expect(self.app(refresh_event, None), 200)

        def through_bearer() -> None:
            _expect(self.app(bearer_event, None), 200)

        def raw_get_item() -> None:
            self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)

        app_time, refresh_time, bearer_time, raw_time = self._alternate(
            [through_app, refreshed, through_bearer, raw_get_item], self.sizes.reps
        )
        ratio = app_time.median_ms / raw_time.median_ms
        bearer_ratio = bearer_time.median_ms / raw_time.median_ms
        self.timings["protected"] = app_time
        self.timings["refresh"] = refresh_time
        self.timings["raw GetItem"] = raw_time
        return {
            "app GET /auth/session": app_time,
            "app GET /auth/session refreshing last_used_at": refresh_time,
            "app GET /auth/session, Authorization: Bearer": bearer_time,
            "raw GetItem (ConsistentRead)": raw_time,
            "ratio": ratio,
            "bearer ratio": bearer_ratio,
            "target": VALIDATION_TARGET,
            "target met": ratio <= VALIDATION_TARGET and bearer_ratio <= VALIDATION_TARGET,
        }

    # -- 8. access tokens ----------------------------------------------------------------------

    def access_tokens(self) -> dict[str, Any]:
        """POST /auth/token against one raw GetItem, and the RS256 signature alone (a token's
        claims signed with the keyring's key): a token costs the session's read and this."""
        import jwt

        from chalicelib.access_tokens import ALGORITHM, TOKEN_TYPE, TokenKeyring

        token = self.sign_up(f"tokens-{uuid.uuid4().hex[:6]}@example.com")
        key = {"pk": {"S": session_pk(token_digest(token))}}
        event = self.event("POST", "/auth/token", token)
        issued = self.access_token(token)
        claims = jwt.decode(issued, options={"verify_signature": False})
        keyring_text = Path(self.local["ACCESS_TOKEN_KEYS_FILE"]).read_text(encoding="utf-8")
        signing = TokenKeyring.from_json(keyring_text, "bench").keys[0]
        headers = {"kid": signing.kid, "typ": TOKEN_TYPE}

        def through_app() -> None:
            _expect(self.app(event, None), 200)

        def raw_get_item() -> None:
            self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)

        def signature() -> None:
            jwt.encode(claims, signing.private_key, algorithm=ALGORITHM, headers=headers)

        app_time, raw_time, sign_time = self._alternate(
            [through_app, raw_get_item, signature], self.sizes.reps
        )
        load_time = self._time(lambda: TokenKeyring.from_json(keyring_text, "bench"), 20)
        return {
            "app POST /auth/token": app_time,
            "raw GetItem (ConsistentRead)": raw_time,
            "RS256 signature alone": sign_time,
            "ratio token / GetItem": app_time.median_ms / raw_time.median_ms,
            "signature share of a token": sign_time.median_ms / app_time.median_ms,
            "keyring load (once per container)": load_time,
            "store calls": self.calls[TOKEN_ISSUE],
            "token size (bytes)": len(issued),
        }

    # -- 3. login round trips and cost ---------------------------------------------------------

    def login(self) -> dict[str, Any]:
        calls = self.calls["login, no session cookie"]
        code_calls = self.calls["code sign-in"]
        social_calls = self.calls["social sign-in, a known identity (the callback)"]
        email = f"login-{uuid.uuid4().hex[:6]}@example.com"
        token = self.sign_up(email)
        self.device = None
        self.log_in(email)  # the steady state: a browser this account knows (its device cookie)
        device = hashlib.sha256(str(self.device).encode()).hexdigest()
        hasher = PasswordHasher(self.settings)
        encoded = hasher.hash(PASSWORD)
        login_event = self.event("POST", "/auth/login", body={"email": email, "password": PASSWORD})
        claim = {"pk": {"S": claim_pk(email)}}
        # The login's two round trips without the app: the same keys read, a session written.
        counters = (("email", email), ("ip", CLIENT_IP), ("device", device))
        keys = [claim, *({"pk": {"S": counter_pk(c)}} for c in counters)]
        session = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": session_pk(token_digest(token))}}
        )["Item"]

        def login() -> None:
            _expect(self.app(login_event, None), 200)

        def verify() -> None:
            if not hasher.verify(encoded, PASSWORD)[0]:
                raise RuntimeError("argon2 verification failed")

        def raw_get_item() -> None:
            self.client.get_item(TableName=self.table, Key=claim, ConsistentRead=True)

        def raw_round_trips() -> None:
            request = {self.table: {"Keys": keys, "ConsistentRead": True}}
            self.client.batch_get_item(RequestItems=request)
            fresh = {**session, "pk": {"S": session_pk(secrets.token_hex(32))}}
            self.client.put_item(
                TableName=self.table, Item=fresh, ConditionExpression="attribute_not_exists(pk)"
            )

        rounds: list[list[int]] = []
        login_time, verify_time, get_time, raw_time = self._alternate(
            [login, verify, raw_get_item, raw_round_trips],
            self.sizes.login_reps,
            # DynamoDB Local is a JVM: its BatchGetItem and PutItem paths, cold until now, need
            # as long a warm-up as the GetItem the earlier sections ran hundreds of times.
            warmup=self.sizes.login_warmup,
            wall_out=rounds,
        )
        self.timings["login"] = login_time
        # A login and a verify are timed side by side in each round: the median of their
        # paired differences is what the login adds, with the machine's drift between rounds
        # taken out (the difference of the two medians also carries that drift).
        beyond = statistics.median(a - b for a, b in zip(rounds[0], rounds[1], strict=True)) / 1e6
        return {
            "round trips of a successful login": len(calls),
            "its calls": calls,
            "round trips of a code sign-in": len(code_calls),
            "a code sign-in's calls": code_calls,
            "store round trips of a social sign-in's callback (warm, a known identity)": len(
                social_calls
            ),
            "its store calls": social_calls,
            "its calls to the provider": self.provider_calls,
            "POST /auth/login": login_time,
            "argon2 verify alone": verify_time,
            "raw GetItem (ConsistentRead)": get_time,
            "raw BatchGetItem (the same 3 keys) + PutItem (a session)": raw_time,
            "login - argon2 verify (ms), median of the rounds' differences": beyond,
            "the difference of the medians, for comparison (ms)": (
                login_time.median_ms - verify_time.median_ms
            ),
            "(login - argon2 verify) / raw GetItem": beyond / get_time.median_ms,
            "the two raw calls / raw GetItem": raw_time.median_ms / get_time.median_ms,
            "targets": {
                "2 round trips": len(calls) == 2,
                "a code sign-in in 2 round trips": len(code_calls) == 2,
                "a social callback in at most 3 store round trips": len(social_calls) <= 3,
                "a social callback in at most 2 provider calls": len(self.provider_calls) <= 2,
                f"login - argon2 verify <= {LOGIN_TARGET} x raw GetItem": (
                    beyond <= LOGIN_TARGET * get_time.median_ms
                ),
            },
            "ratio login / argon2 verify": login_time.median_ms / verify_time.median_ms,
            "argon2 parameter sets": self._argon2_costs(),
        }

    def _argon2_costs(self) -> dict[str, dict[str, Timing]]:
        argon2 = {}
        default = (
            self.settings.argon2_memory_kib,
            self.settings.argon2_time_cost,
            self.settings.argon2_parallelism,
        )
        for memory, passes, lanes in (default, *ARGON2_ALTERNATIVES):
            params = replace(
                self.settings,
                argon2_memory_kib=memory,
                argon2_time_cost=passes,
                argon2_parallelism=lanes,
            )
            candidate = PasswordHasher(params)
            sample = candidate.hash(PASSWORD)
            hash_time, verify_alone = self._alternate(
                [
                    lambda c=candidate: c.hash(PASSWORD),
                    lambda c=candidate, s=sample: c.verify(s, PASSWORD),
                ],
                self.sizes.argon2_reps,
                warmup=1,
            )
            label = f"m={memory} KiB, t={passes}, p={lanes}" + (
                " (default)" if params == self.settings else ""
            )
            argon2[label] = {"hash": hash_time, "verify": verify_alone}
        return argon2

    # -- 4. cold start ----------------------------------------------------------------------------

    def cold_start(self) -> dict[str, Any]:
        """Fresh processes, app and baseline alternately; the ratio is taken per pair, since
        single runs here swing by 0.1 with whatever else the machine does at that moment."""
        token = self.sign_up(f"cold-{uuid.uuid4().hex[:6]}@example.com")
        env = {
            **os.environ,
            **stage_environment("local"),
            **self.local,
            "TABLE_NAME": self.table,
            "BENCH_TABLE": self.table,
            "BENCH_TOKEN": token,
            "BENCH_DIGEST_KEY": session_pk(token_digest(token)),
        }

        def spawn(mode: str) -> tuple[int, int, int]:
            """Wall and CPU nanoseconds of one cold start, and its peak RSS in KiB."""
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter_ns()
            done = subprocess.run(
                [sys.executable, "-m", "bench.cold_start", mode],
                cwd=ROOT, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            elapsed = time.perf_counter_ns() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise RuntimeError(f"cold start ({mode}) failed: {done.stderr[-2000:]}")
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            peak = json.loads(done.stdout.strip().splitlines()[-1])["max_rss_kib"]
            return elapsed, round(cpu * 1e9), peak

        # Bytecode as the deployed package has it (`make package` ships .pyc files, since
        # Lambda's read-only file system would not let Python write them), and as pip left it
        # for chalice and boto3.
        compileall.compile_file(ROOT / "app.py", quiet=1)
        for package_dir in ("chalicelib", "bench"):
            compileall.compile_dir(ROOT / package_dir, quiet=1)
        spawn("app")  # warm the file system cache, outside the measurement
        spawn("baseline")
        runs: dict[str, list[tuple[int, int, int]]] = {"app": [], "baseline": []}
        for _ in range(self.sizes.cold_pairs):
            for mode in runs:
                runs[mode].append(spawn(mode))
        app, base = (Timing.of([r[0] for r in runs[m]], [r[1] for r in runs[m]]) for m in runs)
        p10, ratio, p90 = spread(
            [a[0] / b[0] for a, b in zip(runs["app"], runs["baseline"], strict=True)]
        )
        self.timings["cold start"] = app
        self.timings["baseline cold start"] = base
        return {
            "app: import + one authenticated request": app,
            "baseline: import chalice+boto3, client, one GetItem": base,
            "ratio (median of the pairs' ratios)": ratio,
            "ratio p10-p90": f"{p10:.3f}-{p90:.3f}",
            "pairs": self.sizes.cold_pairs,
            "target": COLD_START_TARGET,
            "target met": ratio <= COLD_START_TARGET,
            "peak RSS app (MiB)": statistics.median(r[2] for r in runs["app"]) / 1024,
            "peak RSS baseline (MiB)": statistics.median(r[2] for r in runs["baseline"]) / 1024,
        }

    # -- 5. scale ---------------------------------------------------------------------------------

    def scale(self) -> dict[str, Any]:
        token = self.sign_up(f"scale-{uuid.uuid4().hex[:6]}@example.com")
        event = self.event("GET", "/auth/session", token)
        # DynamoDB Local is a JVM: warm it well before the first size, or that size looks slow.
        for _ in range(self.sizes.reps):
            self.app(event, None)
        latencies: dict[str, Timing] = {}
        fill_seconds: dict[str, float] = {}
        filled = 0
        for size in self.sizes.scale:
            started = time.perf_counter()
            self._fill_sessions(size - filled)
            fill_seconds[f"to {size:,}"] = time.perf_counter() - started
            filled = size
            latencies[f"{size:,} sessions"] = self._time(
                lambda: self.app(event, None), self.sizes.reps
            )
        values = list(latencies.values())
        listing: dict[str, Timing] = {}
        for count in self.sizes.listing:
            email = f"listing-{count}-{uuid.uuid4().hex[:6]}@example.com"
            owner = self.sign_up(email)
            for _ in range(count - 1):
                self.log_in(email)
            listing[f"{count} sessions"] = self._time(
                lambda t=owner: self.request("GET", "/auth/sessions", t), self.sizes.reps
            )
        listed = list(listing.values())
        return {
            "validation": latencies,
            "validation ratio largest/smallest": values[-1].median_ms / values[0].median_ms,
            "batch-write fill (s)": fill_seconds,
            "listing one user's sessions": listing,
            "listing ratio": listed[-1].median_ms / listed[0].median_ms,
        }

    # -- 9. the admin's user search ----------------------------------------------------------------

    def admin_search(self) -> dict[str, Any]:
        """A page of 50 from an email-prefix search, through the app with an admin's session,
        at each size of `users`: its store calls (one round of parallel Queries, no Scan) and
        its time, which should stay flat as users grow (store.directory)."""
        import pyotp

        from devtools.admin import change_roles

        email = f"admin-{uuid.uuid4().hex[:6]}@example.com"
        token = self.sign_up(email)
        change_roles(self.services.store, self.settings, email, add=("admin",), remove_all=False)
        setup = self.request("POST", "/auth/2fa/totp/setup", token, body={"password": PASSWORD})
        _expect(setup, 200)
        secret = json.loads(setup["body"])["secret"]
        code = pyotp.TOTP(secret).at(self.clock.now())
        enabled = self.request("POST", "/auth/2fa/totp/enable", token, body={"code": code})
        _expect(enabled, 200)
        admin = _token(enabled)  # a second factor given in this sign-in
        event = self.event(
            "GET",
            "/admin/users",
            admin,
            resource="/admin/users",
            query={"query": "u", "limit": "50"},
        )
        timings: dict[str, Timing] = {}
        calls: dict[str, list[str]] = {}
        filled = 0
        for size in self.sizes.users:
            self._fill_users(filled, size)
            filled = size
            with CallRecorder(self.client) as recorder:
                response = self.app(event, None)
                _expect(response, 200)
                calls[f"{size:,} users"] = recorder.operations
            if len(json.loads(response["body"])["users"]) < min(50, size):
                raise RuntimeError("the search's page is short of users")
            timings[f"{size:,} users"] = self._time(lambda: self.app(event, None), self.sizes.reps)
        values = list(timings.values())
        return {
            "a page of 50 by email prefix": timings,
            "ratio largest/smallest": values[-1].median_ms / values[0].median_ms,
            "store calls": calls,
            "no Scan": all("Scan" not in c for c in calls.values()),
        }

    def _fill_users(self, start: int, end: int) -> None:
        """User items as sign-up writes them (store.accounts), the search index's entries."""
        now = int(time.time())
        items = []
        for i in range(start, end):
            record = UserRecord(
                user_id=str(uuid.uuid4()),
                email=f"user{i:06d}@example.com",
                email_verified=True,
                two_factor=False,
                created_at=now,
            )
            _claim, user = self.services.store.accounts.create(record, None)
            items.append(user.params["Item"])
            if len(items) == 500:
                self.services.store.table.put_items(items)
                items = []
        self.services.store.table.put_items(items)

    def _fill_sessions(self, count: int) -> None:
        now = int(time.time())
        sessions = self.services.store.sessions
        chunk: list[SessionRecord] = []
        for i in range(count):
            chunk.append(
                SessionRecord(
                    digest=secrets.token_hex(32),
                    session_id=secrets.token_urlsafe(12),
                    user_id=f"filler-{i % 5000}",
                    email=f"filler{i % 5000}@example.com",
                    email_verified=False,
                    two_factor_enabled=False,
                    two_factor_verified=False,
                    created_at=now,
                    expires_at=now + 30 * DAY,
                    absolute_expires_at=now + 90 * DAY,
                    last_used_at=now,
                    user_agent="bench",
                    ip="198.51.100.1",
                )
            )
            if len(chunk) == 500:
                sessions.put_many(chunk)
                chunk = []
        sessions.put_many(chunk)

    # -- 6. package size ---------------------------------------------------------------------------

    def package_size(self) -> dict[str, Any]:
        try:
            from devtools.package import package
        except ImportError:
            return {"skipped": "the deployment packaging (make package) is not available"}
        with tempfile.TemporaryDirectory() as folder:
            template = package("prod", Path(folder) / "prod")
            archive = template.with_name("deployment.zip")
            with zipfile.ZipFile(archive) as zipped:
                unpacked = sum(info.file_size for info in zipped.infolist())
                files = len(zipped.infolist())
            return {
                "deployment.zip (KiB)": round(archive.stat().st_size / 1024),
                "unpacked (KiB)": round(unpacked / 1024),
                "files": files,
            }

    # -- 7. cost against Amazon Cognito -----------------------------------------------------------

    def cost_model(self, package_kib: int) -> CostModel:
        def work(operation: str, timing: str) -> Work:
            measured = self.timings[timing]
            return Work(self.units[operation], measured.median_ms, measured.cpu_ms or 0.0)

        cold, raw = self.timings["cold start"], self.timings["raw GetItem"]
        baseline = self.timings["baseline cold start"]
        return CostModel(
            Inputs(
                protected=work("protected request, steady state", "protected"),
                refresh=work("protected request, activity refresh", "refresh"),
                login=work("login, no session cookie", "login"),
                cold_start_wall_ms=cold.median_ms,
                cold_start_cpu_ms=cold.cpu_ms or 0.0,
                memory_mb=lambda_memory_mb(),
                session_bytes=self.stored["session (item and index entry)"],
                account_bytes=self.stored["account (user item and email claim)"],
                package_kib=package_kib,
                raw_get_item=Work(Units(), raw.median_ms, raw.cpu_ms or 0.0),
                baseline_cold_start=Work(Units(), baseline.median_ms, baseline.cpu_ms or 0.0),
            )
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _time(self, action: Callable[[], Any], reps: int) -> Timing:
        for _ in range(self.sizes.warmup):
            action()
        samples = []
        for _ in range(reps):
            started = time.perf_counter_ns()
            action()
            samples.append(time.perf_counter_ns() - started)
        return Timing.of(samples)

    def _alternate(
        self,
        actions: list[Callable[[], Any]],
        reps: int,
        warmup: int | None = None,
        wall_out: list[list[int]] | None = None,
    ) -> list[Timing]:
        """Time `actions` in turn, `reps` rounds: wall clock and this thread's CPU time (the
        wall samples, per action and in round order, also go to `wall_out` if given)."""
        for _ in range(self.sizes.warmup if warmup is None else warmup):
            for action in actions:
                action()
        wall: list[list[int]] = [[] for _ in actions]
        cpu: list[list[int]] = [[] for _ in actions]
        for _ in range(reps):
            for k, action in enumerate(actions):
                cpu_started = time.thread_time_ns()
                started = time.perf_counter_ns()
                action()
                wall[k].append(time.perf_counter_ns() - started)
                cpu[k].append(time.thread_time_ns() - cpu_started)
        if wall_out is not None:
            wall_out.extend(wall)
        return [Timing.of(w, c) for w, c in zip(wall, cpu, strict=True)]


def _figure(value: float) -> float:
    """Three significant figures: an md5 is microseconds, an scrypt hundreds of ms."""
    return float(f"{value:.3g}")


def _expect(response: dict[str, Any], status: int) -> None:
    if response["statusCode"] != status:
        raise RuntimeError(f"expected {status}, got {response['statusCode']}: {response['body']}")


def _token(response: dict[str, Any]) -> str:
    """The session cookie's value (a sign-in may set a device cookie beside it)."""
    token = _cookie(response, "auth_session")
    if token is None:
        raise RuntimeError("no session cookie")
    return token


def _cookie(response: dict[str, Any], wanted: str) -> str | None:
    for cookie in response.get("multiValueHeaders", {}).get("Set-Cookie", []):
        name, _, value = cookie.split(";", 1)[0].partition("=")
        if name == wanted:
            return value
    return None


def lambda_memory_mb(stage: str = "prod") -> int:
    """The function's memory as Chalice deploys it (.chalice/config.json, stage included)."""
    return int(CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name=stage).lambda_memory_size)


def dynamodb_local_version() -> str:
    """The version in the jar's release notes (their first entry is the jar's own)."""
    try:
        notes = (find_jar().parent / "README.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        return "unknown"
    found = re.search(r"\((\d+\.\d+\.\d+)\)", notes)
    return found.group(1) if found else "unknown"


@contextmanager
def dynamodb() -> Iterator[str]:
    """DynamoDB Local in memory, unless AWS_ENDPOINT_URL_DYNAMODB names one already."""
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        yield os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        return
    with DynamoDBLocal() as database:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = database.endpoint
        try:
            yield f"DynamoDB Local {dynamodb_local_version()} (JVM, in memory) on this machine"
        finally:
            del os.environ["AWS_ENDPOINT_URL_DYNAMODB"]


def run(sizes: Sizes, chart: Path) -> dict[str, Any]:
    for key, value in local_aws_env().items():
        os.environ.setdefault(key, value)
    started = time.perf_counter()
    with dynamodb() as database:
        bench = Bench(sizes)
        try:
            results: dict[str, Any] = {
                "1. store calls and capacity units per operation": (
                    bench.store_calls_and_capacity()
                ),
                # Now, while the stream holds section 1's story alone.
                "10. events": bench.events(),
                "2. validation overhead": bench.validation_overhead(),
                "3. login round trips and cost": bench.login(),
                "4. cold start": bench.cold_start(),
            }
            results["5. scale"] = bench.scale()
            results["6. deployment package"] = package = bench.package_size()
            results["9. admin search"] = bench.admin_search()
            results["11. import"] = bench.imports()
            tokens = bench.access_tokens()
            model = bench.cost_model(package.get("deployment.zip (KiB)", 0))
        finally:
            bench.close()
    results["7. cost against Amazon Cognito"] = model.report()
    results["8. access tokens"] = tokens
    results["10. events"] = results.pop("10. events")  # measured early, shown in its place
    results["11. import"] = results.pop("11. import")
    machine = platform.machine()
    results["run"] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{machine}, {cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}",
        "python": platform.python_version(),
        "dynamodb": database,
        "quick": sizes is QUICK,
    }
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart.write_text(draw_chart(model, results["run"]), encoding="utf-8")
    results["run"]["chart"] = str(chart)
    return results


def cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown CPU"
    found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return found.group(1).strip() if found else "unknown CPU"


def draw_chart(model: CostModel, run_info: dict[str, Any]) -> str:
    users = sorted({10 ** (3 + k / 20) for k in range(81)} | {1e4, 1e5, 1e6})
    bills = {mau: model.month(mau) for mau in users}
    http = {mau: model.month(mau, api="http").total for mau in users}
    lite, essentials = model.prices.cognito_lite, model.prices.cognito_essentials
    series = [
        Series(
            "this service, all-in, REST API",
            "#1f77b4",
            False,
            [(m, b.total) for m, b in bills.items()],
        ),
        Series("this service, all-in, HTTP API", "#2ca02c", False, list(http.items())),
        Series(
            "this service, auth's share", "#1f77b4", True, [(m, b.auth) for m, b in bills.items()]
        ),
        Series("Cognito Lite", "#d62728", False, [(m, lite.cost(m)) for m in users]),
        Series("Cognito Essentials", "#ff7f0e", False, [(m, essentials.cost(m)) for m in users]),
    ]
    values = [y for s in series for _, y in s.points if y > 0]
    floor = 10.0 ** math.floor(math.log10(min(values)))
    top = 10.0 ** math.ceil(math.log10(max(values)))
    profile = model.profile
    return cost_chart(
        series,
        x_range=(1e3, 1e7),
        y_range=(floor, top),
        title="Monthly cost: this service vs Amazon Cognito user pools",
        subtitle=f"us-east-1 list prices checked {CHECKED}; each user a month: {profile.logins} "
        f"logins, {profile.protected_requests} protected requests; "
        f"measured {run_info['when'][:10]}",
        notes=[
            f"Cognito is $0 up to its 10,000 free MAU: on a log scale its lines rise there from "
            f"the ${floor:g} floor.",
            "all-in: API Gateway (REST or HTTP API) + Lambda + DynamoDB. auth's share: what an "
            "app on Cognito would not pay (logins,",
            "DynamoDB, session checks). Cognito adds a hosted UI, email and SMS, federation and "
            "OAuth tokens.",
            "Every assumption: README, section Performance (make bench prints them).",
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the session service.")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the code runs")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "results.json")
    parser.add_argument(
        "--chart",
        type=Path,
        help=f"the cost chart (SVG); default {CHART.relative_to(ROOT)}, or beside --out when quick",
    )
    args = parser.parse_args(argv)
    # A quick run's figures are not worth committing: its chart goes beside its results.
    chart = args.chart or (args.out.with_name(CHART.name) if args.quick else CHART)
    results = run(QUICK if args.quick else FULL, chart)
    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out} and {chart}")
    return 0
