import pytest

from chalicelib.errors import TooManyAttempts
from chalicelib.throttle import Attempt, LoginThrottle
from tests.conftest import table_items

EMAIL = "ann@example.com"
IP = "203.0.113.7"


class Throttle:
    """The throttle as a password check drives it: read the counters, check, record."""

    def __init__(self, store, settings, clock):
        self.store = store
        self.login = LoginThrottle(store, settings, clock)

    def seen(self, email=EMAIL, ip=IP):
        return self.store.table.read(*self.login.reads(Attempt(email, ip)))

    def check(self, email=EMAIL, ip=IP) -> bool:
        return self.login.check(Attempt(email, ip), self.seen(email, ip), trusted=False)

    def record_failure(self, email=EMAIL, ip=IP):
        self.login.record_failure(Attempt(email, ip), self.seen(email, ip), trusted=False)

    def clear(self, email=EMAIL):
        self.store.table.commit(self.login.clear(Attempt(email, IP), trusted=False))


@pytest.fixture
def throttle(store, settings, clock) -> Throttle:
    return Throttle(store, settings, clock)


def fail(throttle, times, email=EMAIL, ip=IP):
    for _ in range(times):
        throttle.check(email, ip)
        throttle.record_failure(email, ip)


def retry_after(throttle, email=EMAIL, ip=IP) -> int:
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check(email, ip)
    assert raised.value.status == 429
    assert raised.value.code == "too_many_attempts"
    return int(raised.value.headers()["Retry-After"])


def test_four_failures_are_allowed_the_fifth_locks_the_email(throttle):
    fail(throttle, 4)
    assert throttle.check(EMAIL, IP) is True
    throttle.record_failure(EMAIL, IP)
    assert retry_after(throttle) == 60
    # Another address is not affected by this email's lockout.
    assert throttle.check("bob@example.com", "198.51.100.1") is False


def test_the_wait_doubles_on_each_further_failure_up_to_15_minutes(throttle, clock):
    fail(throttle, 5)
    waits = []
    for _ in range(6):
        wait = retry_after(throttle)
        waits.append(wait)
        clock.advance(seconds=wait)
        fail(throttle, 1)
    assert waits == [60, 120, 240, 480, 900, 900]


def test_counters_are_forgotten_after_the_window(throttle, clock):
    fail(throttle, 4)
    clock.advance(minutes=15)
    fail(throttle, 4)  # a fresh count: no lockout
    assert throttle.check(EMAIL, IP) is True


def test_five_failures_spread_over_more_than_15_minutes_do_not_lock(throttle, clock):
    for _ in range(5):
        fail(throttle, 1)
        clock.advance(minutes=4)
    assert throttle.check(EMAIL, IP) is True


def test_a_lockout_is_remembered_past_the_window(throttle, clock):
    fail(throttle, 5)
    for _ in range(4):  # 5 lockouts: the last is 15 minutes long
        clock.advance(seconds=retry_after(throttle))
        fail(throttle, 1)
    assert retry_after(throttle) == 900
    clock.advance(minutes=25)  # past the lockout, but within a window of its end
    fail(throttle, 1)  # still counted: the wait stays at its cap, it does not start over
    assert retry_after(throttle) == 900


def test_the_ip_locks_after_20_failures_across_emails(throttle):
    for i in range(20):
        fail(throttle, 1, email=f"user{i}@example.com")
    assert retry_after(throttle, email="fresh@example.com") == 60
    assert throttle.check("fresh@example.com", "198.51.100.1") is False


def test_clear_forgets_the_email_but_not_the_ip(throttle, dynamodb, settings):
    fail(throttle, 4)
    throttle.clear(EMAIL)
    keys = {item["pk"]["S"] for item in table_items(dynamodb, settings.table_name)}
    assert keys == {f"THROTTLE#ip#{IP}"}
    assert throttle.check(EMAIL, IP) is False


def test_counter_items_expire_by_ttl(throttle, dynamodb, settings, clock):
    fail(throttle, 1)
    for item in table_items(dynamodb, settings.table_name):
        assert item["expires_at"] == {"N": str(clock.now() + 15 * 60)}
        assert item["count"] == {"N": "1"}


def test_check_reads_both_counters_in_one_call(throttle, calls):
    throttle.check(EMAIL, IP)
    assert calls.operations == ["BatchGetItem"]
    assert calls.calls[0][1]["RequestItems"]["auth-test"]["ConsistentRead"] is True


def test_a_failure_records_both_counters_in_one_call(throttle, calls, dynamodb, settings):
    fail(throttle, 2)
    seen = throttle.seen()
    calls.clear()
    throttle.login.record_failure(Attempt(EMAIL, IP), seen, trusted=False)
    assert calls.operations == ["TransactWriteItems"]
    counts = {i["pk"]["S"]: i["count"]["N"] for i in table_items(dynamodb, settings.table_name)}
    assert counts == {f"THROTTLE#email#{EMAIL}": "3", f"THROTTLE#ip#{IP}": "3"}


def test_a_failure_counted_by_another_request_meanwhile_is_not_lost(
    throttle, calls, dynamodb, settings
):
    fail(throttle, 1)
    stale = throttle.seen()
    throttle.record_failure()  # a concurrent request counts its failure first
    calls.clear()
    throttle.login.record_failure(Attempt(EMAIL, IP), stale, trusted=False)
    # The optimistic write fails on the stale count; the atomic increments take over.
    assert calls.operations[0] == "TransactWriteItems"
    assert "UpdateItem" in calls.operations[1:]
    counts = {i["pk"]["S"]: i["count"]["N"] for i in table_items(dynamodb, settings.table_name)}
    assert counts == {f"THROTTLE#email#{EMAIL}": "3", f"THROTTLE#ip#{IP}": "3"}


def test_without_an_ip_only_the_email_is_counted_in_one_put(throttle, calls, dynamodb, settings):
    seen = throttle.seen(ip="")
    calls.clear()
    throttle.login.record_failure(Attempt(EMAIL, ""), seen, trusted=False)
    assert calls.operations == ["PutItem"]
    assert [i["pk"]["S"] for i in table_items(dynamodb, settings.table_name)] == [
        f"THROTTLE#email#{EMAIL}"
    ]
