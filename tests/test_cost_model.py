"""The benchmark's arithmetic: DynamoDB's capacity rules, the cost model and the chart. The
benchmark's own run (tests/integration/test_bench.py) only proves the code runs end to end;
these check that what it computes is right, with hand-worked figures."""

import math
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from bench.capacity import TableShape, Units, item_size, priced, reported
from bench.chart import BOTTOM, HEIGHT, LEFT, RIGHT, WIDTH, Series, cost_chart
from bench.cost import (
    PRICES,
    CostModel,
    EventWork,
    Inputs,
    Price,
    Traffic,
    Work,
    describe,
    events_cost,
)
from bench.report import Table, sig, usd
from chalicelib.store import TABLE_DEFINITION
from devtools.calls import CallRecorder, MeasuredCall, item_key

SHAPE = TableShape.of(TABLE_DEFINITION)
TABLE = "auth-test"


def session(pk: str, user: str = "u1", expires: str = "1800000000") -> dict:
    return {
        "pk": {"S": pk},
        "session_id": {"S": "handle"},
        "session_user_id": {"S": user},
        "created_at": {"N": "1700000000"},
        "expires_at": {"N": expires},
    }


def write(operation: str, changes: dict[str, tuple[dict | None, dict | None]]) -> MeasuredCall:
    """A write call that turned each item (by pk) from its first state into its second."""
    before, after = {}, {}
    for pk, (old, new) in changes.items():
        before[item_key(TABLE, {"pk": {"S": pk}})] = old
        after[item_key(TABLE, {"pk": {"S": pk}})] = new
    return MeasuredCall(operation, {}, {}, before, after)


# -- item sizes ------------------------------------------------------------------------------------


def test_item_size_follows_dynamodb_rules():
    # names + values: "pk"+"abc" = 5; "n"+(2 bytes for 3 digits + 1) = 4; "b"+1 = 2
    assert item_size({"pk": {"S": "abc"}, "n": {"N": "123"}, "b": {"BOOL": True}}) == 11
    assert item_size({"n": {"N": "1000"}}) == 1 + 2  # trailing zeros do not count
    assert item_size({"s": {"S": "é"}}) == 1 + 2  # UTF-8 bytes, not characters
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size(None) == 0


def test_stored_bytes_count_the_index_entry_and_both_overheads():
    item = {**session("SESSION#x"), "user_agent": {"S": "x" * 100}}
    entry = {k: item[k] for k in ("pk", "session_user_id", "created_at", "session_id")}
    assert SHAPE.stored_bytes(item) == item_size(item) + 100 + item_size(entry) + 100
    assert SHAPE.stored_bytes({"pk": {"S": "EMAIL#a"}}) == 9 + 100  # no index entry


# -- capacity units --------------------------------------------------------------------------------


def test_a_transaction_costs_two_units_per_item_where_dynamodb_local_says_two_in_all():
    counters = {f"THROTTLE#{k}": (None, {"pk": {"S": f"THROTTLE#{k}"}}) for k in "abcd"}
    assert priced(write("TransactWriteItems", counters), SHAPE) == Units(write_table=8)


def test_a_session_put_writes_the_index_and_a_delete_removes_it():
    new = session("SESSION#n")
    assert priced(write("PutItem", {"SESSION#n": (None, new)}), SHAPE) == Units(0, 0, 1, 1)
    both = {"SESSION#n": (None, new), "SESSION#o": (session("SESSION#o"), None)}
    assert priced(write("TransactWriteItems", both), SHAPE) == Units(0, 0, 4, 4)


def test_updating_unprojected_attributes_never_touches_the_index():
    old = session("SESSION#s")
    touched = {**old, "expires_at": {"N": "1900000000"}, "last_used_at": {"N": "1"}}
    assert priced(write("UpdateItem", {"SESSION#s": (old, touched)}), SHAPE) == Units(0, 0, 1, 0)


def test_changing_an_index_key_deletes_and_puts_the_entry():
    old, moved = session("SESSION#s"), session("SESSION#s", user="u2")
    assert priced(write("UpdateItem", {"SESSION#s": (old, moved)}), SHAPE) == Units(0, 0, 1, 2)


def test_a_write_is_sized_by_the_larger_item_in_whole_kilobytes():
    big = {"pk": {"S": "USER#1"}, "blob": {"S": "x" * 1500}}
    assert priced(write("DeleteItem", {"USER#1": (big, None)}), SHAPE).write_table == 2


def test_batch_get_charges_every_requested_key_found_or_not():
    keys = [{"pk": {"S": k}} for k in ("A", "B", "C")]
    call = MeasuredCall(
        "BatchGetItem",
        {"RequestItems": {TABLE: {"Keys": keys, "ConsistentRead": True}}},
        {"Responses": {TABLE: [{"pk": {"S": "A"}}]}},
        {},
        {},
    )
    assert priced(call, SHAPE) == Units(read_table=3)


def test_index_queries_are_eventually_consistent_reads_of_the_entries():
    call = MeasuredCall(
        "Query", {"IndexName": "user_session_keys"}, {"Items": [session("SESSION#q")]}, {}, {}
    )
    assert priced(call, SHAPE) == Units(read_index=0.5)


def test_reported_units_come_from_the_response_list_or_object():
    single = {
        "Table": {"CapacityUnits": 1.0},
        "GlobalSecondaryIndexes": {"i": {"CapacityUnits": 1.0}},
    }
    put = MeasuredCall("PutItem", {}, {"ConsumedCapacity": single}, {}, {})
    assert reported(put) == Units(0, 0, 1, 1)
    listed = {"ConsumedCapacity": [{"Table": {"CapacityUnits": 2.0}}]}
    assert reported(MeasuredCall("BatchGetItem", {}, listed, {}, {})) == Units(read_table=2)


def test_the_recorder_keeps_the_items_a_write_changed_and_asks_for_capacity(dynamodb, settings):
    table = settings.table_name
    dynamodb.put_item(TableName=table, Item=session("SESSION#old"))
    with CallRecorder(dynamodb, capacity=True) as recorder:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": session("SESSION#new")}},
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "SESSION#old"}}}},
            ]
        )
    # Its own reads of the items are neither recorded nor measured.
    assert recorder.operations == ["TransactWriteItems"]
    assert "ReturnConsumedCapacity" not in recorder.calls[0][1]
    (call,) = recorder.measured
    assert call.params["ReturnConsumedCapacity"] == "INDEXES"
    new, old = (item_key(table, {"pk": {"S": f"SESSION#{k}"}}) for k in ("new", "old"))
    assert call.before == {new: None, old: session("SESSION#old")}
    assert call.after == {new: session("SESSION#new"), old: None}
    assert priced(call, SHAPE) == Units(0, 0, 4, 4)
    dynamodb.get_item(TableName=table, Key={"pk": {"S": "SESSION#new"}})
    assert recorder.operations == ["TransactWriteItems"]  # closed: no longer recording


# -- prices and the model --------------------------------------------------------------------------


def test_tiered_prices_charge_each_band_at_its_rate():
    lite, essentials = PRICES.cognito_lite, PRICES.cognito_essentials
    assert lite.cost(10_000) == essentials.cost(10_000) == 0
    assert lite.cost(100_000) == pytest.approx(90_000 * 0.0055)
    assert lite.cost(1_000_000) == pytest.approx(90_000 * 0.0055 + 900_000 * 0.0046)
    assert essentials.cost(1_000_000) == pytest.approx(990_000 * 0.015)
    api = PRICES.api_gateway
    assert api.cost(334e6) - api.cost(333e6) == pytest.approx(2.80)


def test_every_price_names_its_source_and_the_day_it_was_checked():
    for price in vars(PRICES).values():
        assert price.source.startswith("https://")
        assert len(price.checked) == len("2026-11-27")
    assert describe(PRICES.api_gateway).startswith(
        "REST API request: $3.50 per million up to 333,000,000 a month; then $2.80"
    )


INPUTS = Inputs(
    protected=Work(Units(read_table=1), wall_ms=2.0, cpu_ms=1.0),
    refresh=Work(Units(read_table=1, write_table=1), wall_ms=3.0, cpu_ms=1.5),
    login=Work(Units(3, 0, 1, 1), wall_ms=40.0, cpu_ms=35.0),
    cold_start_wall_ms=400.0,
    cold_start_cpu_ms=380.0,
    memory_mb=512,
    session_bytes=800,
    account_bytes=500,
    package_kib=2500,
)


def test_cpu_time_stretches_with_lambdas_cpu_share_and_waiting_does_not():
    model = CostModel(INPUTS)
    assert model.cpu_factor == pytest.approx(1769 / 512)
    assert model.billed_ms(INPUTS.protected) == math.ceil(1.0 * 1769 / 512 + 1.0)  # 5 ms
    assert CostModel(replace(INPUTS, memory_mb=3008)).cpu_factor == 1  # at most one core here


def test_a_million_logins_cost_their_units_requests_and_time():
    model = CostModel(INPUTS)
    bill = model.bill(Traffic(logins=1e6))
    assert bill.dynamodb == pytest.approx(3 * 0.125 + 2 * 0.625)
    assert bill.api_gateway == pytest.approx(3.50)
    gb_seconds = (model.billed_ms(INPUTS.login) + 0.01 * model.cold_start_ms) / 1000 * 0.5 * 1e6
    assert bill.lambda_ == pytest.approx(0.20 + gb_seconds * 0.0000166667)
    assert bill.auth == pytest.approx(bill.total)  # with Cognito, no login reaches the API


def test_protected_requests_count_only_their_units_and_handler_time_as_auth():
    model = CostModel(INPUTS)
    bill = model.bill(Traffic(protected=1e6))
    refresh_share = 20 / 300
    handler_ms = (1 - refresh_share) * 5 + refresh_share * model.billed_ms(INPUTS.refresh)
    units = 0.125 + refresh_share * 0.625
    assert bill.dynamodb == pytest.approx(units)
    assert bill.auth == pytest.approx(units + handler_ms / 1000 * 0.5 * 1e6 * 0.0000166667)


def test_a_month_stores_each_users_sessions_and_account():
    model = CostModel(INPUTS)
    month, empty = model.month(1_000_000), model.bill(Traffic(protected=300e6, logins=4e6))
    stored_gb = 1_000_000 * (4 * 800 + 500) / 1024**3
    assert month.dynamodb - empty.dynamodb == pytest.approx(stored_gb * 0.25)


def test_arm64_pays_its_own_duration_price_for_the_same_time():
    model = CostModel(INPUTS)
    x86, arm = model.month(100_000), model.month(100_000, "arm64")
    requests_fee = 100_000 * 304 * 0.20e-6
    assert (arm.lambda_ - requests_fee) == pytest.approx(
        (x86.lambda_ - requests_fee) * 0.0000133334 / 0.0000166667
    )
    assert (arm.api_gateway, arm.dynamodb) == (x86.api_gateway, x86.dynamodb)
    ratio = PRICES.duration("arm64").cost(1) / PRICES.duration("x86_64").cost(1)
    assert ratio == pytest.approx(0.8, rel=1e-5)  # "20% less per GB-second"


def test_the_http_api_pays_its_own_tiered_price_and_nothing_else_changes():
    model = CostModel(INPUTS)
    rest, http = model.month(1_000_000), model.month(1_000_000, api="http")
    requests = 1_000_000 * 304  # 300 protected requests and 4 logins each
    assert http.api_gateway == pytest.approx(300e6 * 1.00e-6 + (requests - 300e6) * 0.90e-6)
    assert rest.api_gateway == pytest.approx(requests * 3.50e-6)  # all in REST's first band
    assert (http.lambda_, http.dynamodb) == (rest.lambda_, rest.dynamodb)

    # Auth's share holds the logins' gateway fees only (the protected requests' are paid on
    # Cognito too), priced at the margin above the 300 million protected requests.
    def logins_fee(price):
        return price.cost(requests) - price.cost(300e6)

    saved = logins_fee(PRICES.api_gateway) - logins_fee(PRICES.http_api)
    assert saved == pytest.approx(4e6 * 3.50e-6 - 4e6 * 0.90e-6)
    assert http.auth == pytest.approx(rest.auth - saved)


def test_the_http_api_ratios_are_reported_against_their_targets():
    ratios = CostModel(INPUTS).http_api_ratios(1_000_000)
    model = CostModel(INPUTS)
    http = model.month(1_000_000, api="http").total
    assert ratios["all-in HTTP API / all-in REST API"] == round(
        http / model.month(1_000_000).total, 3
    )
    assert ratios["all-in HTTP API / Cognito Lite"] == round(
        http / PRICES.cognito_lite.cost(1_000_000), 3
    )
    assert set(ratios["targets"]) == {"HTTP / REST <= 0.45", "HTTP / Cognito Lite <= 0.1"}
    with pytest.raises(KeyError):
        model.month(1_000_000, "http")  # an API where the architecture goes: never priced


def test_the_stacks_floor_takes_our_code_out_of_the_protected_request_and_the_cold_start():
    assert CostModel(INPUTS).stack_floor() is None  # not measured: no floor reported
    assert "floor" not in " ".join(CostModel(INPUTS).http_api_ratios(1_000_000))
    measured = replace(
        INPUTS,
        raw_get_item=Work(Units(), wall_ms=1.5, cpu_ms=0.5),
        baseline_cold_start=Work(Units(), wall_ms=300.0, cpu_ms=290.0),
    )
    floor = CostModel(measured).stack_floor()
    assert floor is not None
    # Only the steady-state request's time and the cold start change: its units, the
    # refreshes and the logins stay the service's.
    assert floor.inputs == replace(
        measured,
        protected=Work(Units(read_table=1), wall_ms=1.5, cpu_ms=0.5),
        cold_start_wall_ms=300.0,
        cold_start_cpu_ms=290.0,
    )
    ours = CostModel(measured).month(1_000_000, api="http")
    bare = floor.month(1_000_000, api="http")
    assert (bare.api_gateway, bare.dynamodb) == (ours.api_gateway, ours.dynamodb)
    requests = 304e6
    ours_ms = (280 / 300) * 5 + (20 / 300) * 7  # billed: 1.0 x 3.46 + 1.0 -> 5; refresh 7
    bare_ms = (280 / 300) * 3 + (20 / 300) * 7  # 0.5 x 3.46 + 1.0 -> 3
    cold_ms = 0.01 * (380 * 1769 / 512 + 20 - (290 * 1769 / 512 + 10))
    saved_gb_s = (300e6 * (ours_ms - bare_ms) + requests * cold_ms) / 1000 * 0.5
    assert ours.lambda_ - bare.lambda_ == pytest.approx(saved_gb_s * 0.0000166667)
    ratios = CostModel(measured).http_api_ratios(1_000_000)
    (key,) = [k for k in ratios if "floor" in k]
    assert ratios[key] == round(bare.total / PRICES.cognito_lite.cost(1_000_000), 3)


def test_snapstart_trades_each_cold_starts_init_for_a_restore_and_caches_one_snapshot():
    model = CostModel(INPUTS)
    snap = model.snapstart(1_000_000)
    cold_starts = 1_000_000 * 304 * 0.01
    assert snap.cold_starts == pytest.approx(cold_starts)
    assert snap.restore == pytest.approx(cold_starts * 0.5 * 0.0001397998)
    assert snap.cache == pytest.approx(730 * 3600 * 0.5 * 0.0000015046)  # about $1.98
    init_ms = 380 * 1769 / 512 + 20  # CPU stretched, waiting not
    assert snap.init_saved == pytest.approx(cold_starts * init_ms / 1000 * 0.5 * 0.0000166667)
    assert snap.net == pytest.approx(snap.restore + snap.cache - snap.init_saved)
    assert snap.net > 0  # at a 1.3 s INIT a restore costs more than the INIT it replaces
    cheap = CostModel(replace(INPUTS, cold_start_wall_ms=10_000, cold_start_cpu_ms=9_000))
    assert cheap.snapstart(1_000_000).net < 0  # a 30 s INIT would pay for SnapStart


def test_break_even_is_where_the_costs_cross():
    crossing = CostModel.crossings(lambda m: 0.001 * m, PRICES.cognito_essentials.cost)
    assert crossing == [pytest.approx(150 / 0.014, rel=1e-6)]  # 0.001 m = 0.015 (m - 10,000)
    assert CostModel.crossings(lambda m: 1e9, PRICES.cognito_lite.cost) == []


def test_the_report_has_every_row_and_states_its_assumptions():
    report = CostModel(INPUTS).report()
    assert set(report["per 1M requests (USD)"].rows) == {"1M protected requests", "1M logins"}
    assert set(report["per month (USD)"].rows) == {"10,000 MAU", "100,000 MAU", "1,000,000 MAU"}
    assert set(report["break-even"]) == {
        "all-in vs Cognito Lite",
        "all-in vs Cognito Essentials",
        "all-in, HTTP API vs Cognito Lite",
        "all-in, HTTP API vs Cognito Essentials",
        "auth's share vs Cognito Lite",
        "auth's share vs Cognito Essentials",
    }
    assert any("cold starts" in line for line in report["assumptions"])
    assert any("arm64" in line for line in report["assumptions"])
    assert any(line.startswith("SnapStart") for line in report["assumptions"])
    assert set(report["prices"]) == set(vars(PRICES))
    monthly = report["per month (USD)"].columns
    assert {"all-in, REST API", "all-in, HTTP API", "all-in, HTTP API + arm64"} <= set(monthly)
    per_million = report["per 1M requests (USD)"].columns
    assert {"REST API", "HTTP API", "Lambda, arm64"} <= set(per_million)
    assert "HTTP API at 1,000,000 MAU" in report
    assert set(report["SnapStart, per month (USD; not enabled)"].rows) == set(
        report["per month (USD)"].rows
    )


# -- presentation ----------------------------------------------------------------------------------


def test_money_is_rounded_to_two_significant_figures():
    assert [usd(v) for v in (0, 0.008333, 3.5, 11.34, 1234, 14_850)] == [
        "$0",
        "$0.0083",
        "$3.5",
        "$11",
        "$1,200",
        "$15,000",
    ]
    assert sig(0.012345, 3) == 0.0123


def test_tables_align_their_figures_and_keep_lists_in_json():
    table = Table(("op", "calls", "units"), {"login": (["A", "B"], 2.0), "logout": (["C"], 1.5)})
    assert table.lines() == [
        "op      calls  units",
        "login   A + B      2",
        "logout      C    1.5",
    ]
    assert table.to_json() == {
        "login": {"calls": ["A", "B"], "units": 2.0},
        "logout": {"calls": ["C"], "units": 1.5},
    }


def test_the_chart_is_standalone_svg_and_free_tiers_rise_from_the_floor():
    svg = cost_chart(
        [
            Series("ours", "#000", False, [(1e3, 1.0), (1e5, 100.0)]),
            Series("free at first", "#f00", True, [(1e3, 0.0), (1e4, 0.0), (1e5, 500.0)]),
        ],
        x_range=(1e3, 1e5),
        y_range=(0.1, 1e3),
        title="t",
        subtitle="s",
        notes=["n"],
    )
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing external
    _, free = root.findall("{http://www.w3.org/2000/svg}polyline")
    first_point = free.get("points").split()[0]
    x, y = (float(v) for v in first_point.split(","))
    assert x == pytest.approx(LEFT + (WIDTH - LEFT - RIGHT) / 2)  # 10k: half way to 100k
    assert y == pytest.approx(HEIGHT - BOTTOM)  # the bottom edge


def test_price_bands_stop_at_the_quantity():
    price = Price(((10, 1.0), (math.inf, 0.5)), "thing", "https://example.com")
    assert price.cost(4) == 4
    assert price.cost(14) == 10 + 2


def test_events_are_priced_by_what_each_costs_the_pipeline():
    work = EventWork(Units(read_table=2, write_table=4, write_index=4), 1000, 30.0)
    month = events_cost(work, 5, 1_000_000, webhooks=1)
    assert month["events"] == 5_000_000
    # 5M events x (2 reads + 8 writes), and 15M events kept (90 days) of 1000 bytes.
    stored = 15_000_000 * 1000 / 1024**3
    assert month["DynamoDB"] == pytest.approx(
        PRICES.dynamodb_reads.cost(10e6)
        + PRICES.dynamodb_writes.cost(40e6)
        + PRICES.dynamodb_storage.cost(stored)
    )
    # The consumer's invocation per event and one delivery's: 10M at 30 ms and 256 MB.
    assert month["Lambda"] == pytest.approx(
        PRICES.lambda_requests.cost(10e6) + PRICES.lambda_duration.cost(10e6 * 0.030 / 4)
    )
    assert month["SQS"] == pytest.approx(3 * 5e6 * 0.50e-6)  # send, receive, delete
    assert events_cost(work, 5, 1_000_000, webhooks=2)["SQS"] == pytest.approx(2 * month["SQS"])
