"""The benchmark: store calls per operation, validation overhead, login cost, cold start, scale
and package size, against DynamoDB Local, as ratios measured side by side in one run.

    python -m bench            # the full run (`make bench`), a few minutes on 2 cores
    python -m bench --quick    # tiny sizes: proves the code runs (the test suite uses it)

Every timing is the median of many repetitions after a warm-up, with the 10th-90th percentile
spread. Two timings that form a ratio are taken alternately in one loop, so load on the
machine hits both alike.
"""

from __future__ import annotations

import argparse
import compileall
import json
import logging
import os
import platform
import secrets
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

import boto3

from bench.events import api_event
from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.passwords import PasswordHasher
from chalicelib.sessions import token_digest
from chalicelib.store import CLIENT_CONFIG, SessionRecord, create_table
from devtools.calls import CallRecorder
from devtools.dynamodb_local import ROOT, DynamoDBLocal, local_aws_env
from devtools.stage import stage_environment

DAY = 86_400
PASSWORD = "correct horse battery staple"  # noqa: S105 (a benchmark account)
OUT_DIR = ROOT / ".bench"

# Alternatives to the default Argon2id cost (19456 KiB, t=2, p=1), from OWASP's equivalent
# recommendations: more memory and one pass, or less memory and more passes.
ARGON2_ALTERNATIVES = ((47104, 1, 1), (12288, 3, 1))


@dataclass(frozen=True)
class Sizes:
    reps: int  # timed repetitions per latency figure
    warmup: int
    login_reps: int
    argon2_reps: int
    cold_runs: int  # fresh processes per side
    scale: tuple[int, ...]  # sessions in the table
    listing: tuple[int, ...]  # sessions of one user


FULL = Sizes(
    reps=300,
    warmup=50,
    login_reps=15,
    argon2_reps=10,
    cold_runs=12,
    scale=(1_000, 10_000, 100_000),
    listing=(1, 50),
)
QUICK = Sizes(
    reps=5, warmup=2, login_reps=2, argon2_reps=2, cold_runs=1, scale=(10, 30), listing=(1, 3)
)


class ShiftedClock:
    """The real clock, moved forward on demand: to reach the half-life without waiting."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        return int(time.time()) + self.offset


@dataclass
class Timing:
    median_ms: float
    p10_ms: float
    p90_ms: float
    n: int

    @classmethod
    def of(cls, samples_ns: list[int]) -> Timing:
        ms = sorted(s / 1e6 for s in samples_ns)
        deciles = statistics.quantiles(ms, n=10) if len(ms) > 1 else [ms[0]] * 9
        return cls(statistics.median(ms), deciles[0], deciles[-1], len(ms))

    def __str__(self) -> str:
        return f"{self.median_ms:.2f} ms (p10-p90 {self.p10_ms:.2f}-{self.p90_ms:.2f}, n={self.n})"


class Bench:
    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self.table = f"bench-{uuid.uuid4().hex[:8]}"
        self.client = boto3.client("dynamodb", config=CLIENT_CONFIG)
        create_table(self.client, self.table)
        env = {**stage_environment("local"), "TABLE_NAME": self.table}
        self.settings = Settings.from_env(env)
        self.clock = ShiftedClock()
        self.services = runtime.build(self.settings, client=self.client, clock=self.clock)
        runtime.use(self.services)
        self.calls = CallRecorder(self.client)
        # Hundreds of sign-ins would flood the output with audit lines.
        self._audit_logger = logging.getLogger("session_auth.audit")
        self._audit_level = self._audit_logger.level
        self._audit_logger.setLevel(logging.WARNING)
        from app import app

        self.app = app

    def close(self) -> None:
        self._audit_logger.setLevel(self._audit_level)
        runtime.use(None)
        self.client.delete_table(TableName=self.table)

    # -- requests through the app, as Lambda would call it ------------------------------------

    def request(self, method: str, path: str, token: str | None = None, body: Any = None) -> dict:
        headers = {"cookie": f"auth_session={token}"} if token else {}
        return self.app(api_event(method, path, headers, body), None)

    def sign_up(self, email: str) -> str:
        response = self.request("POST", "/auth/signup", body={"email": email, "password": PASSWORD})
        _expect(response, 201)
        return _token(response)

    def log_in(self, email: str) -> str:
        response = self.request("POST", "/auth/login", body={"email": email, "password": PASSWORD})
        _expect(response, 200)
        return _token(response)

    # -- 1. store calls per operation ----------------------------------------------------------

    def store_calls(self) -> dict[str, Any]:
        def counted(action: Callable[[], Any]) -> dict[str, Any]:
            self.calls.clear()
            action()
            return {"calls": self.calls.operations, "writes": len(self.calls.writes)}

        email = f"calls-{uuid.uuid4().hex[:6]}@example.com"
        result = {"signup": counted(lambda: self.sign_up(email))}
        holder: dict[str, str] = {}
        result["login"] = counted(lambda: holder.setdefault("token", self.log_in(email)))
        token = holder["token"]
        result["protected, steady state"] = counted(
            lambda: self.request("GET", "/trainings", token)
        )
        self.clock.offset = 20 * DAY  # past half of the 30-day lifetime
        result["protected, extends the session"] = counted(
            lambda: self.request("GET", "/trainings", token)
        )
        self.clock.offset = 0
        result["list sessions"] = counted(lambda: self.request("GET", "/auth/sessions", token))
        result["logout"] = counted(lambda: self.request("POST", "/auth/logout", token))
        steady = result["protected, steady state"]
        extends = result["protected, extends the session"]
        result["targets met"] = (
            len(steady["calls"]) == 1
            and steady["writes"] == 0
            and extends["writes"] <= 1
            and len(extends["calls"]) <= 2
        )
        return result

    # -- 2. validation overhead -------------------------------------------------------------------

    def validation_overhead(self) -> dict[str, Any]:
        token = self.sign_up(f"overhead-{uuid.uuid4().hex[:6]}@example.com")
        key = {"pk": {"S": f"SESSION#{token_digest(token)}"}}
        event = api_event("GET", "/auth/session", {"cookie": f"auth_session={token}"})

        def through_app() -> None:
            _expect(self.app(event, None), 200)

        def raw_get_item() -> None:
            self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)

        app_time, raw_time = self._alternate(through_app, raw_get_item, self.sizes.reps)
        return {
            "app GET /auth/session": app_time,
            "raw GetItem (ConsistentRead)": raw_time,
            "ratio": app_time.median_ms / raw_time.median_ms,
            "target": 1.25,
        }

    # -- 3. login cost ----------------------------------------------------------------------------

    def login_cost(self) -> dict[str, Any]:
        email = f"login-{uuid.uuid4().hex[:6]}@example.com"
        self.sign_up(email)
        hasher = PasswordHasher(self.settings)
        encoded = hasher.hash(PASSWORD)
        body = {"email": email, "password": PASSWORD}

        def login() -> None:
            _expect(self.request("POST", "/auth/login", body=body), 200)

        def verify() -> None:
            if not hasher.verify(encoded, PASSWORD)[0]:
                raise RuntimeError("argon2 verification failed")

        login_time, verify_time = self._alternate(login, verify, self.sizes.login_reps, warmup=1)
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
                lambda c=candidate: c.hash(PASSWORD),
                lambda c=candidate, s=sample: c.verify(s, PASSWORD),
                self.sizes.argon2_reps,
                warmup=1,
            )
            label = f"m={memory} KiB, t={passes}, p={lanes}" + (
                " (default)" if params == self.settings else ""
            )
            argon2[label] = {"hash": hash_time, "verify": verify_alone}
        return {
            "POST /auth/login": login_time,
            "argon2 verify alone": verify_time,
            "ratio": login_time.median_ms / verify_time.median_ms,
            "argon2 parameter sets": argon2,
        }

    # -- 4. cold start ----------------------------------------------------------------------------

    def cold_start(self) -> dict[str, Any]:
        token = self.sign_up(f"cold-{uuid.uuid4().hex[:6]}@example.com")
        env = {
            **os.environ,
            **{k: v for k, v in stage_environment("local").items()},
            "TABLE_NAME": self.table,
            "BENCH_TABLE": self.table,
            "BENCH_TOKEN": token,
            "BENCH_DIGEST_KEY": f"SESSION#{token_digest(token)}",
        }
        samples: dict[str, list[int]] = {"app": [], "baseline": []}
        rss: dict[str, list[int]] = {"app": [], "baseline": []}

        def spawn(mode: str) -> None:
            started = time.perf_counter_ns()
            done = subprocess.run(
                [sys.executable, "-m", "bench.cold_start", mode],
                cwd=ROOT, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            elapsed = time.perf_counter_ns() - started
            if done.returncode != 0:
                raise RuntimeError(f"cold start ({mode}) failed: {done.stderr[-2000:]}")
            samples[mode].append(elapsed)
            rss[mode].append(json.loads(done.stdout.strip().splitlines()[-1])["max_rss_kib"])

        # Bytecode as the deployed package has it (`make package` ships .pyc files, since
        # Lambda's read-only file system would not let Python write them), and as pip left it
        # for chalice and boto3.
        compileall.compile_file(ROOT / "app.py", quiet=1)
        for package_dir in ("chalicelib", "bench"):
            compileall.compile_dir(ROOT / package_dir, quiet=1)
        spawn("app")  # warm the file system cache, outside the measurement
        spawn("baseline")
        for values in (*samples.values(), *rss.values()):
            values.clear()
        for _ in range(self.sizes.cold_runs):
            spawn("app")
            spawn("baseline")
        app_time, base_time = Timing.of(samples["app"]), Timing.of(samples["baseline"])
        return {
            "app: import + one authenticated request": app_time,
            "baseline: import chalice+boto3, client, one GetItem": base_time,
            "ratio": app_time.median_ms / base_time.median_ms,
            "target": 1.15,
            "peak RSS app (MiB)": statistics.median(rss["app"]) / 1024,
            "peak RSS baseline (MiB)": statistics.median(rss["baseline"]) / 1024,
        }

    # -- 5. scale ---------------------------------------------------------------------------------

    def scale(self) -> dict[str, Any]:
        token = self.sign_up(f"scale-{uuid.uuid4().hex[:6]}@example.com")
        event = api_event("GET", "/auth/session", {"cookie": f"auth_session={token}"})
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

    def _fill_sessions(self, count: int) -> None:
        now = int(time.time())
        store = self.services.store
        chunk: list[SessionRecord] = []
        for i in range(count):
            chunk.append(
                SessionRecord(
                    digest=secrets.token_hex(32),
                    session_id=secrets.token_urlsafe(12),
                    user_id=f"filler-{i % 5000}",
                    email=f"filler{i % 5000}@example.com",
                    created_at=now,
                    expires_at=now + 30 * DAY,
                    absolute_expires_at=now + 90 * DAY,
                    last_used_at=now,
                    user_agent="bench",
                    ip="198.51.100.1",
                )
            )
            if len(chunk) == 500:
                store.put_sessions(chunk)
                chunk = []
        store.put_sessions(chunk)

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
        first: Callable[[], Any],
        second: Callable[[], Any],
        reps: int,
        warmup: int | None = None,
    ) -> tuple[Timing, Timing]:
        for _ in range(self.sizes.warmup if warmup is None else warmup):
            first()
            second()
        a, b = [], []
        for _ in range(reps):
            started = time.perf_counter_ns()
            first()
            middle = time.perf_counter_ns()
            second()
            b.append(time.perf_counter_ns() - middle)
            a.append(middle - started)
        return Timing.of(a), Timing.of(b)


def _expect(response: dict[str, Any], status: int) -> None:
    if response["statusCode"] != status:
        raise RuntimeError(f"expected {status}, got {response['statusCode']}: {response['body']}")


def _token(response: dict[str, Any]) -> str:
    cookie = response["multiValueHeaders"]["Set-Cookie"][-1]
    return cookie.split(";", 1)[0].split("=", 1)[1]


@contextmanager
def dynamodb() -> Iterator[str]:
    """DynamoDB Local in memory, unless AWS_ENDPOINT_URL_DYNAMODB names one already."""
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        yield os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        return
    with DynamoDBLocal() as database:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = database.endpoint
        try:
            yield database.endpoint
        finally:
            del os.environ["AWS_ENDPOINT_URL_DYNAMODB"]


def run(sizes: Sizes) -> dict[str, Any]:
    for key, value in local_aws_env().items():
        os.environ.setdefault(key, value)
    started = time.perf_counter()
    with dynamodb() as endpoint:
        bench = Bench(sizes)
        try:
            results: dict[str, Any] = {
                "1. store calls per operation": bench.store_calls(),
                "2. validation overhead": bench.validation_overhead(),
                "3. login cost": bench.login_cost(),
                "4. cold start": bench.cold_start(),
                "5. scale": bench.scale(),
                "6. deployment package": bench.package_size(),
            }
        finally:
            bench.close()
    results["run"] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}",
        "python": platform.python_version(),
        "dynamodb": f"DynamoDB Local at {endpoint}",
        "quick": sizes is QUICK,
    }
    return results


def to_json(value: Any) -> Any:
    if isinstance(value, Timing):
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in vars(value).items()}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, 3)
    return value


def render(results: dict[str, Any]) -> str:
    lines = []

    def walk(value: Any, depth: int) -> None:
        for key, item in value.items():
            pad = "  " * depth
            if isinstance(item, dict):
                lines.append(f"{pad}{key}")
                walk(item, depth + 1)
            elif isinstance(item, Timing):
                lines.append(f"{pad}{key}: {item}")
            elif isinstance(item, float):
                lines.append(f"{pad}{key}: {item:.3f}")
            else:
                lines.append(f"{pad}{key}: {item}")

    walk(results, 0)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the session service.")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the code runs")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "results.json")
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL)
    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 0
