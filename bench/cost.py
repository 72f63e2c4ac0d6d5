"""What the service costs to run on AWS, against Amazon Cognito user pools.

The inputs are measured by the benchmark (DynamoDB units per operation, time in the handler,
the cold start, the stored item sizes); the prices are AWS's public us-east-1 list prices and
live in `PRICES` only, each with its source and the date it was checked. Every assumption the
model makes is stated by `CostModel.assumptions()`, which the benchmark prints with the table.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from bench.capacity import Units
from bench.report import Table, count, usd

CHECKED = "2026-11-27"
CHECKED_ARM_AND_SNAPSTART = "2026-12-01"
CHECKED_HTTP_API = "2026-12-01"
INF = math.inf
# Lambda's two architectures, as the template names them (make package ARCH=...).
ARCHITECTURES = ("x86_64", "arm64")
# API Gateway's two kinds, as make package API=... names them.
APIS = ("rest", "http")
# The issue-20 targets at 1M MAU: all-in on the HTTP API against REST, and against Cognito Lite.
HTTP_VS_REST_TARGET = 0.45
HTTP_VS_COGNITO_LITE_TARGET = 0.1
MONTH_SECONDS = 730 * 3600  # AWS's pricing examples take a month as 730 hours

# Lambda allocates CPU in proportion to memory: "at 1,769 MB, a function has the equivalent of
# one vCPU" (AWS Lambda developer guide, "Configure Lambda function memory").
FULL_VCPU_MB = 1769


@dataclass(frozen=True)
class Price:
    """USD per unit, in monthly volume tiers: ((volume up to, price per unit), ...)."""

    tiers: tuple[tuple[float, float], ...]
    unit: str
    source: str
    checked: str = CHECKED
    note: str = ""

    def cost(self, quantity: float) -> float:
        """The price of `quantity` units in one month, each tier at its own rate."""
        total, lower = 0.0, 0.0
        for upper, rate in self.tiers:
            if quantity <= lower:
                break
            total += (min(quantity, upper) - lower) * rate
            lower = upper
        return total


def flat(rate: float, unit: str, source: str, note: str = "", checked: str = CHECKED) -> Price:
    return Price(((INF, rate),), unit, source, checked=checked, note=note)


@dataclass(frozen=True)
class Prices:
    api_gateway: Price  # the REST API
    http_api: Price
    lambda_requests: Price
    lambda_duration: Price
    lambda_duration_arm64: Price
    snapstart_cache: Price
    snapstart_restore: Price
    dynamodb_reads: Price
    dynamodb_writes: Price
    dynamodb_storage: Price
    cognito_lite: Price
    cognito_essentials: Price

    def duration(self, arch: str) -> Price:
        return {"x86_64": self.lambda_duration, "arm64": self.lambda_duration_arm64}[arch]

    def api(self, api: str) -> Price:
        return {"rest": self.api_gateway, "http": self.http_api}[api]


_COGNITO = "https://aws.amazon.com/cognito/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_DYNAMODB_ON_DEMAND = "https://aws.amazon.com/dynamodb/pricing/on-demand/"

# us-east-1, checked on CHECKED through stored copies of the pages (the search tool of this
# project's sessions); `note` says what was confirmed and where.
PRICES = Prices(
    api_gateway=Price(
        ((333e6, 3.50e-6), (1e9, 2.80e-6), (20e9, 2.38e-6), (INF, 1.51e-6)),
        "REST API request",
        "https://aws.amazon.com/api-gateway/pricing/",
        note="the tiers as AWS's whitepaper quotes them: https://docs.aws.amazon.com/whitepapers/"
        "latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html",
    ),
    http_api=Price(
        ((300e6, 1.00e-6), (INF, 0.90e-6)),
        "HTTP API request (metered in 512 KB increments)",
        "https://aws.amazon.com/api-gateway/pricing/",
        checked=CHECKED_HTTP_API,
        note="$1.00 and $0.90 confirmed through third-party copies of the page (amnic.com, "
        "awsforengineers.com, apigatewaycost.com); AWS's whitepaper confirms the 512 KB "
        "metering. One copy lists a further $0.80 band past 1 billion a month, not modelled: "
        "1M MAU is 304 million requests",
    ),
    lambda_requests=flat(
        0.20e-6,
        "invocation",
        "https://aws.amazon.com/lambda/pricing/",
        note="also in https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/"
        "lambda.html",
    ),
    lambda_duration=Price(
        ((6e9, 0.0000166667), (15e9, 0.000015), (INF, 0.0000133334)),
        "GB-second (x86)",
        "https://aws.amazon.com/lambda/pricing/",
        note="billed per 1 ms (same rates on third-party copies, cloudchipr.com); the INIT phase "
        "(cold start) is billed the same way since 2025-08-01: https://aws.amazon.com/blogs/"
        "compute/aws-lambda-standardizes-billing-for-init-phase/",
    ),
    lambda_duration_arm64=Price(
        ((7.5e9, 0.0000133334), (18.75e9, 0.0000120001), (INF, 0.0000106667)),
        "GB-second (arm64)",
        _LAMBDA,
        checked=CHECKED_ARM_AND_SNAPSTART,
        note="20% below x86 in the first band; the page renders its rates in the browser, so "
        "they were confirmed through artillery's price table (lib/platform/aws-lambda/prices.js"
        ", 1333340e-11 per GB-second in the base regions)",
    ),
    snapstart_cache=flat(
        0.0000015046,
        "GB-second of SnapStart snapshot cached (Python, per published version, at least 3 h)",
        _LAMBDA,
        checked=CHECKED_ARM_AND_SNAPSTART,
        note="Python and .NET only (Java's SnapStart is free); the same figure in third-party "
        "copies of the page (awsnegotiations.com, May 2026)",
    ),
    snapstart_restore=flat(
        0.0001397998,
        "GB restored from a SnapStart snapshot (Python, each new execution environment)",
        _LAMBDA,
        checked=CHECKED_ARM_AND_SNAPSTART,
        note="as the cache price; the restored environment's run-time load (Billed Restore "
        "Duration) is billed as duration on top and not counted here",
    ),
    dynamodb_reads=flat(
        0.125e-6,
        "read request unit (on-demand)",
        _DYNAMODB_ON_DEMAND,
        note="since the on-demand price cut of 2024-11-01 (it was $0.25); confirmed through "
        "third-party copies (airbyte.com, linkedin.com): the AWS page itself was not in reach",
    ),
    dynamodb_writes=flat(
        0.625e-6,
        "write request unit (on-demand)",
        _DYNAMODB_ON_DEMAND,
        note="since 2024-11-01 (it was $1.25); confirmed as the read price",
    ),
    dynamodb_storage=flat(
        0.25,
        "GB-month (Standard table class)",
        "https://aws.amazon.com/dynamodb/pricing/",
        note="the first 25 GB a month are free (not applied here)",
    ),
    cognito_lite=Price(
        ((10_000, 0.0), (100_000, 0.0055), (1e6, 0.0046), (10e6, 0.00325), (INF, 0.0025)),
        "monthly active user",
        _COGNITO,
        note="the free 10,000, $0.0055 and $0.0046 confirmed (a transcription of the page read "
        "2026-09-20, github.com/api-evangelist/amazon-cognito); $0.00325 and $0.0025 NOT "
        "confirmed by search: the best-known figures of the pricing of 2024-11-22",
    ),
    cognito_essentials=Price(
        ((10_000, 0.0), (INF, 0.015)),
        "monthly active user",
        _COGNITO,
        note="confirmed as Lite's first bands",
    ),
)


# -- what the benchmark measured ---------------------------------------------------------------


class Work(NamedTuple):
    """One kind of request as measured: its DynamoDB units and its time in the handler."""

    units: Units
    wall_ms: float
    cpu_ms: float


@dataclass(frozen=True)
class Inputs:
    protected: Work  # steady state: one GetItem
    refresh: Work  # the request that refreshes last_used_at or extends the session
    login: Work
    cold_start_wall_ms: float
    cold_start_cpu_ms: float
    memory_mb: int  # .chalice/config.json lambda_memory_size
    session_bytes: int  # stored per session: the item and its index entry, overheads included
    account_bytes: int  # stored per account: the user item and the email claim
    package_kib: int
    # The stack alone, for its floor (CostModel.stack_floor): one raw consistent GetItem through
    # the SDK, and the cold start of chalice, the SDK, a client and one GetItem. None: unmeasured.
    raw_get_item: Work | None = None
    baseline_cold_start: Work | None = None


@dataclass(frozen=True)
class Profile:
    """What one monthly active user does in a month."""

    logins: int = 4
    protected_requests: int = 300
    visits: int = 20  # the first request of a visit refreshes last_used_at (or extends): 1 write
    session_days: int = 30  # each login's session is kept this long, then expires (TTL: free)
    cold_start_rate: float = 0.01  # AWS: cold starts "typically occur in under 1% of invocations"

    @property
    def stored_sessions(self) -> float:
        return self.logins * self.session_days / 30


class Traffic(NamedTuple):
    protected: float = 0.0  # protected requests, refreshing as the profile's visits say
    logins: float = 0.0
    sessions: float = 0.0  # stored
    accounts: float = 0.0  # stored


class Bill(NamedTuple):
    api_gateway: float  # REST or HTTP API, as billed
    lambda_: float  # invocations, duration and cold starts
    dynamodb: float  # units and storage
    auth: float  # the part an app on Cognito would not pay (see CostModel.bill)

    @property
    def total(self) -> float:
        return self.api_gateway + self.lambda_ + self.dynamodb


class SnapStart(NamedTuple):
    """SnapStart's charges against the INIT time it saves, for one month (USD)."""

    cold_starts: float
    restore: float
    cache: float
    init_saved: float

    @property
    def net(self) -> float:
        return self.restore + self.cache - self.init_saved


GIB = 1024**3


class CostModel:
    def __init__(
        self, inputs: Inputs, profile: Profile | None = None, prices: Prices = PRICES
    ) -> None:
        self.inputs = inputs
        self.profile = profile or Profile()
        self.prices = prices
        # CPU time stretches on a fraction of a vCPU; waiting on DynamoDB does not.
        self.cpu_factor = max(1.0, FULL_VCPU_MB / inputs.memory_mb)
        self._gb = inputs.memory_mb / 1024
        # A protected request as the profile has them: the first of each visit also writes.
        share = self.profile.visits / self.profile.protected_requests
        steady_ms, refresh_ms = self.billed_ms(inputs.protected), self.billed_ms(inputs.refresh)
        self._protected_ms = (1 - share) * steady_ms + share * refresh_ms
        self._protected_units = _mix(inputs.protected.units, 1 - share, inputs.refresh.units, share)
        self.cold_start_ms = self._stretched(inputs.cold_start_wall_ms, inputs.cold_start_cpu_ms)

    def _stretched(self, wall_ms: float, cpu_ms: float) -> float:
        return cpu_ms * self.cpu_factor + max(0.0, wall_ms - cpu_ms)

    def billed_ms(self, work: Work) -> int:
        """Lambda's billed duration of one request (rounded up to 1 ms)."""
        return math.ceil(self._stretched(work.wall_ms, work.cpu_ms))

    def bill(self, traffic: Traffic, arch: str = "x86_64", api: str = "rest") -> Bill:
        """One month of `traffic` on Lambda's `arch` behind API Gateway's `api` (a request is
        one unit of either: our bodies are at most 64 KiB, under the HTTP API's 512 KB).
        `auth` is what an app on Cognito would not pay: logins in full, every DynamoDB unit and
        stored byte, and all of the protected requests' handler time (the route timed, GET
        /auth/session, does nothing but validate and return the session); not the API Gateway
        and Lambda request fees or cold starts of protected requests, which it pays too. arm64
        is priced at the durations measured here (an x86_64 machine): its own speed is not
        measured."""
        p, i = self.prices, self.inputs
        duration = p.duration(arch)
        requests = traffic.protected + traffic.logins
        cold_gb_s = requests * self.profile.cold_start_rate * self.cold_start_ms / 1000 * self._gb
        gb_s = self._warm_gb_s(traffic) + cold_gb_s
        units = _mix(self._protected_units, traffic.protected, i.login.units, traffic.logins)
        stored_gb = (traffic.sessions * i.session_bytes + traffic.accounts * i.account_bytes) / GIB
        gateway = p.api(api)
        api_cost = gateway.cost(requests)
        lambda_ = p.lambda_requests.cost(requests) + duration.cost(gb_s)
        dynamodb = (
            p.dynamodb_reads.cost(units.reads)
            + p.dynamodb_writes.cost(units.writes)
            + p.dynamodb_storage.cost(stored_gb)
        )
        protected_cold_gb_s = cold_gb_s * (traffic.protected / requests) if requests else 0.0
        paid_anyway = (
            gateway.cost(traffic.protected)
            + p.lambda_requests.cost(traffic.protected)
            + duration.cost(protected_cold_gb_s)
        )
        return Bill(api_cost, lambda_, dynamodb, api_cost + lambda_ + dynamodb - paid_anyway)

    def traffic(self, mau: float) -> Traffic:
        profile = self.profile
        return Traffic(
            protected=mau * profile.protected_requests,
            logins=mau * profile.logins,
            sessions=mau * profile.stored_sessions,
            accounts=mau,
        )

    def month(self, mau: float, arch: str = "x86_64", api: str = "rest") -> Bill:
        return self.bill(self.traffic(mau), arch, api)

    def snapstart(self, mau: float) -> SnapStart:
        """What turning SnapStart on (x86_64) would change in one month at `mau`: every cold
        start becomes a restore, charged per GB, instead of an INIT billed as duration; one
        published version's snapshot is cached all month. The restored environment's own
        billed time (loading the runtime, no hooks here) is not counted: SnapStart's cost is
        a lower bound."""
        traffic = self.traffic(mau)
        cold_starts = (traffic.protected + traffic.logins) * self.profile.cold_start_rate
        init_gb_s = cold_starts * self.cold_start_ms / 1000 * self._gb
        # Priced at the margin: the month's other duration fills the tiers first.
        warm_gb_s = self._warm_gb_s(traffic)
        duration = self.prices.lambda_duration
        init_saved = duration.cost(warm_gb_s + init_gb_s) - duration.cost(warm_gb_s)
        return SnapStart(
            cold_starts=cold_starts,
            restore=self.prices.snapstart_restore.cost(cold_starts * self._gb),
            cache=self.prices.snapstart_cache.cost(MONTH_SECONDS * self._gb),
            init_saved=init_saved,
        )

    def _warm_gb_s(self, traffic: Traffic) -> float:
        warm_ms = traffic.protected * self._protected_ms + traffic.logins * self.billed_ms(
            self.inputs.login
        )
        return warm_ms / 1000 * self._gb

    def cognito(self, mau: float) -> tuple[float, float]:
        return self.prices.cognito_lite.cost(mau), self.prices.cognito_essentials.cost(mau)

    # -- break-even ----------------------------------------------------------------------------

    @staticmethod
    def crossings(ours: Callable[[float], float], theirs: Callable[[float], float]) -> list[float]:
        """MAU between 1,000 and 10 million where the two monthly costs are equal."""

        def gap(mau: float) -> float:
            return ours(mau) - theirs(mau)

        grid = [10 ** (3 + k / 100) for k in range(401)]
        found = []
        for low, high in itertools.pairwise(grid):
            if gap(low) * gap(high) < 0:
                for _ in range(40):  # bisection, on a log scale
                    middle = math.sqrt(low * high)
                    low, high = (middle, high) if gap(low) * gap(middle) > 0 else (low, middle)
                found.append(high)
        return found

    # -- the report ----------------------------------------------------------------------------

    def report(self, user_counts: tuple[int, ...] = (10_000, 100_000, 1_000_000)) -> dict[str, Any]:
        per_million = {
            "1M protected requests": Traffic(protected=1e6),
            "1M logins": Traffic(logins=1e6),
        }
        columns = (
            "per", "REST API", "HTTP API", "Lambda", "Lambda, arm64", "DynamoDB",
            "all-in, REST API", "all-in, HTTP API", "auth's share",
        )  # fmt: skip
        rows = {}
        for label, traffic in per_million.items():
            b, http = self.bill(traffic), self.bill(traffic, api="http")
            arm = self.bill(traffic, "arm64")
            figures = (
                b.api_gateway, http.api_gateway, b.lambda_, arm.lambda_, b.dynamodb,
                b.total, http.total, b.auth,
            )  # fmt: skip
            rows[label] = tuple(usd(v) for v in figures)
        monthly, snapstart = {}, {}
        for mau in user_counts:
            bill, http = self.month(mau), self.month(mau, api="http")
            http_arm = self.month(mau, "arm64", "http")
            lite, essentials = self.cognito(mau)
            requests = mau * (self.profile.protected_requests + self.profile.logins)
            monthly[f"{mau:,} MAU"] = (
                count(requests),
                usd(bill.total),
                usd(http.total),
                usd(http_arm.total),
                usd(bill.auth),
                usd(lite),
                usd(essentials),
            )
            snap = self.snapstart(mau)
            snapstart[f"{mau:,} MAU"] = (
                count(snap.cold_starts),
                usd(snap.restore),
                usd(snap.cache),
                usd(snap.init_saved),
                ("+" if snap.net >= 0 else "-") + usd(abs(snap.net)),
            )
        return {
            "per 1M requests (USD)": Table(columns, rows),
            "per month (USD)": Table(
                (
                    "monthly active users",
                    "requests",
                    "all-in, REST API",
                    "all-in, HTTP API",
                    "all-in, HTTP API + arm64",
                    "auth's share",
                    "Cognito Lite",
                    "Cognito Essentials",
                ),
                monthly,
            ),
            "HTTP API at 1,000,000 MAU": self.http_api_ratios(1_000_000),
            "break-even": self.break_even(),
            "SnapStart, per month (USD; not enabled)": Table(
                (
                    "monthly active users",
                    "cold starts",
                    "restores",
                    "snapshot cache",
                    "INIT no longer billed",
                    "net change",
                ),
                snapstart,
            ),
            "SnapStart, per cold start": self.snapstart_per_cold_start(),
            "inputs": self.inputs_report(),
            "assumptions": self.assumptions(),
            "what Cognito includes": COGNITO_INCLUDES,
            "prices": {
                name: f"{describe(price)}; {price.source} (checked {price.checked})"
                + (f"; {price.note}" if price.note else "")
                for name, price in vars(self.prices).items()
            },
        }

    def stack_floor(self) -> CostModel | None:
        """This model with our code's time taken out of the steady-state protected request and
        the cold start: what a function doing nothing but the raw GetItem, on the same
        framework, SDK, memory and table, would cost. Its refreshes and logins stay ours."""
        i = self.inputs
        if i.raw_get_item is None or i.baseline_cold_start is None:
            return None
        bare = replace(
            i,
            protected=i.raw_get_item._replace(units=i.protected.units),
            cold_start_wall_ms=i.baseline_cold_start.wall_ms,
            cold_start_cpu_ms=i.baseline_cold_start.cpu_ms,
        )
        return CostModel(bare, self.profile, self.prices)

    def http_api_ratios(self, mau: int) -> dict[str, Any]:
        """All-in behind the HTTP API against all-in behind REST, and against Cognito Lite;
        how much of the gap to the Lite target the cold-start assumption makes, and the floor
        the stack itself sets (our code's time removed)."""
        http = self.month(mau, api="http").total
        lite = self.prices.cognito_lite.cost(mau)
        vs_rest = http / self.month(mau).total
        vs_lite = http / lite
        fewer = replace(self.profile, cold_start_rate=self.profile.cold_start_rate / 10)
        warmer = CostModel(self.inputs, fewer, self.prices).month(mau, api="http").total
        floor = self.stack_floor()
        return {
            "all-in HTTP API / all-in REST API": round(vs_rest, 3),
            "all-in HTTP API / Cognito Lite": round(vs_lite, 3),
            f"the same with cold starts in {fewer.cold_start_rate:.1%} of invocations": round(
                warmer / lite, 3
            ),
            **(
                {
                    "the stack's floor / Cognito Lite (only the raw GetItem, the baseline's "
                    "cold start)": round(floor.month(mau, api="http").total / lite, 3)
                }
                if floor
                else {}
            ),
            "targets": {
                f"HTTP / REST <= {HTTP_VS_REST_TARGET}": vs_rest <= HTTP_VS_REST_TARGET,
                f"HTTP / Cognito Lite <= {HTTP_VS_COGNITO_LITE_TARGET}": (
                    vs_lite <= HTTP_VS_COGNITO_LITE_TARGET
                ),
            },
        }

    def snapstart_per_cold_start(self) -> dict[str, str]:
        """One cold start with and without SnapStart: its charge and the INIT a user waits for."""
        restore = self.prices.snapstart_restore.tiers[0][1] * self._gb
        init = self.prices.lambda_duration.tiers[0][1] * self._gb * self.cold_start_ms / 1000
        return {
            "INIT billed today": f"{self.cold_start_ms:.0f} ms at {self.inputs.memory_mb} MB = "
            f"{_dollars(round(init, 10))}",
            "a restore instead": f"{_dollars(round(restore, 10))} ({restore / init:.1f} x the INIT "
            "it replaces), plus the restored runtime's billed time",
            "what a user waits for": f"the INIT: {self.cold_start_ms:.0f} ms at "
            f"{self.inputs.memory_mb} MB (estimated from {self.inputs.cold_start_wall_ms:.0f} ms "
            "here), against a restore AWS puts 'as low as sub-second'",
        }

    def break_even(self) -> dict[str, str]:
        """Where this service and each Cognito tier cost the same, and who is cheaper where."""
        result = {}
        ours: dict[str, Callable[[float], float]] = {
            "all-in": lambda m: self.month(m).total,
            "all-in, HTTP API": lambda m: self.month(m, api="http").total,
            "auth's share": lambda m: self.month(m).auth,
        }
        tiers = {"Lite": self.prices.cognito_lite, "Essentials": self.prices.cognito_essentials}
        for label, cost in ours.items():
            for name, tier in tiers.items():
                crossings = self.crossings(cost, tier.cost)
                result[f"{label} vs Cognito {name}"] = _verdict(crossings, cost, name, tier)
        return result

    def inputs_report(self) -> dict[str, str]:
        i = self.inputs

        def work(w: Work) -> str:
            u = w.units
            return (
                f"{u.read_table:g} + {u.read_index:g} read units (table + index), "
                f"{u.write_table:g} + {u.write_index:g} write units; {w.wall_ms:.2f} ms here, "
                f"{w.cpu_ms:.2f} ms of it CPU -> {self.billed_ms(w)} ms billed"
            )

        return {
            "protected request, steady state": work(i.protected),
            "protected request that refreshes or extends": work(i.refresh),
            "login": work(i.login),
            "cold start (import + first request)": (
                f"{i.cold_start_wall_ms:.0f} ms here, {i.cold_start_cpu_ms:.0f} ms of it CPU -> "
                f"{self.cold_start_ms:.0f} ms billed"
            ),
            "Lambda memory": (
                f"{i.memory_mb} MB (.chalice/config.json lambda_memory_size): "
                f"{i.memory_mb / FULL_VCPU_MB:.2f} vCPU, so CPU time x {self.cpu_factor:.2f}"
            ),
            "stored per session": f"{i.session_bytes:,} bytes (item and index entry)",
            "stored per account": f"{i.account_bytes:,} bytes (user item and email claim)",
            "deployment package": (
                f"{i.package_kib:,} KiB zipped: Lambda charges nothing for code storage; "
                "its size shows in the cold start"
            ),
        }

    def assumptions(self) -> list[str]:
        p, per_ms = self.profile, self.prices.lambda_duration.tiers[0][1] * self._gb / 1000
        return [
            "prices: us-east-1 list prices, API Gateway REST API (the HTTP API columns: its "
            "price, every request one 512 KB unit), Lambda x86_64 (the arm64 "
            "columns: its duration price, at the durations measured on this x86_64 machine; "
            "arm64's own speed is not measured here), DynamoDB "
            "on-demand (Standard table class); AWS's free tiers are not applied to this service "
            "(Lambda's and DynamoDB's are per account and used by the app too, API Gateway's "
            "ends after 12 months); Cognito's 10,000 free MAU are",
            f"profile, per monthly active user and month: {p.logins} logins without a session "
            f"cookie, {p.protected_requests} protected requests in {p.visits} visits (the first "
            "request of a visit refreshes last_used_at or extends the session: 1 write); each "
            f"login's session kept {p.session_days} days, so {p.stored_sessions:g} stored "
            "sessions per user, expiring through TTL (no write units); one stored account per "
            "MAU; sign-ups, wrong passwords, logouts and session listings not counted (each is "
            "priced in section 1)",
            f"Lambda at {self.inputs.memory_mb} MB gets {self.inputs.memory_mb / FULL_VCPU_MB:.2f} "
            f"of a vCPU (1 vCPU at {FULL_VCPU_MB:,} MB), so the CPU time measured here (this "
            f"thread's, taking one Lambda vCPU as fast as one core here) is multiplied by "
            f"{self.cpu_factor:.2f}; time waiting on DynamoDB is not, and is as measured against "
            "DynamoDB Local on loopback: in AWS each call waits a few ms more, and every extra ms "
            f"per request adds {usd(per_ms * 1e6)} per 1M requests; each request is billed rounded "
            "up to 1 ms",
            f"cold starts: {p.cold_start_rate:.0%} of invocations (AWS: 'typically under 1%'), "
            "each billed at the cold start measured here with its CPU time stretched the same way "
            "(INIT is billed since 2025-08-01; Lambda may give INIT more CPU, so an upper bound)",
            "SnapStart (not enabled): each cold start becomes a restore charged per GB of memory, "
            "its INIT no longer billed; one published version's snapshot cached the whole month "
            "(each further version kept with SnapStart on is charged the same); the restored "
            "runtime's own billed time is not counted, so its cost is a lower bound",
            "DynamoDB units: section 1's, by AWS's documented rules on the real items "
            "(transactional index writes counted twice: an upper bound)",
            "storage: a GB is 2^30 bytes; point-in-time recovery (enabled by make package), "
            "CloudWatch Logs (Lambda's platform lines and the audit log) and data transfer out are "
            "not counted",
            "auth's share: what an app on Cognito would not pay, i.e. logins in full, every "
            "DynamoDB unit and stored byte, and the protected requests' handler time; not the API "
            "Gateway and Lambda request fees or cold starts of protected requests, paid either way",
            "rounding: 2 significant figures (break-even 3)",
        ]


COGNITO_INCLUDES = (
    "Cognito also gives what this service does not: a hosted sign-in UI, email and SMS delivery "
    "(verification, password reset, MFA codes), social, SAML and OIDC federation, OAuth 2.0 "
    "tokens, and in Essentials passwordless sign-in and passkeys"
)


def _mix(a: Units, a_weight: float, b: Units, b_weight: float) -> Units:
    return Units(*(a_weight * x + b_weight * y for x, y in zip(a, b, strict=True)))


def _verdict(
    crossings: list[float], ours: Callable[[float], float], tier: str, price: Price
) -> str:
    edges = [1e3, *crossings, 1e7]
    cheaper = []
    for low, high in itertools.pairwise(edges):
        middle = math.sqrt(low * high)
        who = "this service" if ours(middle) < price.cost(middle) else f"Cognito {tier}"
        cheaper.append(f"{who} from {count(low, 3)} to {count(high, 3)} MAU")
    equal = ", ".join(f"{count(c, 3)} MAU" for c in crossings) or "nowhere in 1,000-10M MAU"
    return f"equal at {equal}; cheaper: " + ", ".join(cheaper)


def _dollars(amount: float) -> str:
    """$3.50, $0.20, $0.125, $0.0000166667: cents always shown, no float noise."""
    text = f"{amount:.10f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def describe(price: Price) -> str:
    """A price's bands in words: "$3.50 per million, up to 333,000,000 a month; then ..."."""
    bands = []
    for upper, rate in price.tiers:
        if rate == 0:
            amount = "free"
        elif rate < 1e-5:  # requests and request units: quoted per million
            amount = f"{_dollars(rate * 1e6)} per million"
        else:
            amount = f"{_dollars(rate)} each"
        bands.append(amount if upper == INF else f"{amount} up to {upper:,.0f} a month")
    return f"{price.unit}: " + "; then ".join(bands)


# -- events ------------------------------------------------------------------------------------

SQS_FIFO_REQUESTS = flat(
    0.50e-6,
    "SQS FIFO request (64 KB chunks)",
    "https://aws.amazon.com/sqs/pricing/",
    checked="2026-12-06",
    note="AWS's published FIFO rate for the first 100 billion requests a month; the first "
    "million a month are free (not counted). Not re-read on the day: this machine has no web",
)


class EventWork(NamedTuple):
    """What the pipeline spends per event, measured (`make bench` section 10)."""

    units: Units  # the consumer's reads and writes, indexes included
    stored_bytes: int  # an event item and its two index entries
    consumer_ms: float  # the consumer's handler time per event (batches of one: the worst)


def events_cost(
    work: EventWork,
    events_per_user: float,
    users: int,
    *,
    webhooks: int = 1,
    retention_days: int = 90,
    memory_mb: int = 256,
    prices: Prices = PRICES,
) -> dict[str, float]:
    """One month of events for `users` MAU, each making `events_per_user`, delivered to
    `webhooks` endpoints: the consumer's DynamoDB units and Lambda time, the event items kept
    for `retention_days`, and each delivery's SQS requests (send, receive, delete) and delivery
    invocation (as long as the consumer's: a POST takes longer, its wait billed the same)."""
    events = events_per_user * users
    deliveries = events * webhooks
    dynamodb = prices.dynamodb_reads.cost(events * work.units.reads) + prices.dynamodb_writes.cost(
        events * work.units.writes
    )
    kept = events * retention_days / 30  # events stored at any time, on average
    dynamodb += prices.dynamodb_storage.cost(kept * work.stored_bytes / GIB)
    invocations = events + deliveries
    gb_seconds = invocations * math.ceil(work.consumer_ms) / 1000 * memory_mb / 1024
    lambda_ = prices.lambda_requests.cost(invocations) + prices.lambda_duration.cost(gb_seconds)
    sqs = SQS_FIFO_REQUESTS.cost(3 * deliveries)
    return {"events": events, "DynamoDB": dynamodb, "Lambda": lambda_, "SQS": sqs}
