"""`make bench` in its quick mode, so the benchmark code cannot rot. No timing is asserted:
only counts, capacity units and the shape of every section."""

import json
import xml.etree.ElementTree as ET

import pytest

from bench.run import main

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def test_the_benchmark_runs_and_reports_every_figure(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) == {
        "1. store calls and capacity units per operation",
        "2. validation overhead",
        "3. login round trips and cost",
        "4. cold start",
        "5. scale",
        "6. deployment package",
        "7. cost against Amazon Cognito",
        "8. access tokens",
        "9. admin search",
        "10. events",
        "11. import",
        "run",
    }
    # Events cost a request nothing; the consumer's cost per event is measured and priced.
    events = results["10. events"]
    assert all(events["targets"].values()), events["targets"]
    consumer = events["consumer"]
    assert consumer["events"] > 0
    assert consumer["calls"] == "BatchGetItem, TransactWriteItems"

    # Calls and capacity units are exact, not timings: these are the design's targets.
    store = results["1. store calls and capacity units per operation"]
    units = store["units per operation"]
    for presented in ("steady state", "bearer token"):  # the cookie, or a native app's token
        assert units[f"protected request, {presented}"] == {
            "calls": ["GetItem"],
            "read, table": 1,
            "read, index": 0,
            "write, table": 0,
            "write, index": 0,
        }
    for refresh in ("activity refresh", "extends the session"):
        row = units[f"protected request, {refresh}"]
        assert row["calls"] == ["GetItem", "UpdateItem"]
        assert (row["write, table"], row["write, index"]) == (1, 0)  # the index never moves
    assert units["access token (POST /auth/token)"] == {  # the session's read, and no write
        "calls": ["GetItem"],
        "read, table": 1,
        "read, index": 0,
        "write, table": 0,
        "write, index": 0,
    }
    assert store["targets"]["access token: 1 call (GetItem), no write"] is True
    login = units["login, no session cookie"]  # from a browser the account knows
    # The session, with the account's standing checked in the same transaction.
    assert login["calls"] == ["BatchGetItem", "TransactWriteItems"]
    # The account's, the IP's and the device's counters and the claim, read strongly
    # consistent (4, found or not); the session and the user item's check, each a
    # transaction's 2 units, and the session's index entry (2: transactional too).
    assert (login["read, table"], login["write, table"], login["write, index"]) == (4, 4, 2)
    # A browser new to the account: the claim records it in the session's transaction.
    first = units["login, a new browser (device cookie issued)"]
    assert first["calls"] == ["BatchGetItem", "TransactWriteItems"]
    # A failure also reads which imported hash formats the stage holds (its timing pad), once
    # per container every 5 minutes: a success never does.
    assert units["wrong password"]["calls"] in (
        ["BatchGetItem", "TransactWriteItems"],
        ["BatchGetItem", "GetItem", "TransactWriteItems"],
    )
    assert units["wrong password"]["write, table"] == 4  # two counters, transactional
    assert units["list sessions (2 of them)"]["calls"] == ["GetItem", "Query", "BatchGetItem"]
    # An emailed code, like a password: the code, claim and count read, then one write.
    for row in ("code sign-up (no password)", "code sign-in"):
        assert units[row]["calls"] == ["BatchGetItem", "TransactWriteItems"]
        assert units[row]["read, table"] == 3
    assert set(units) >= {
        "signup",
        "login with a session cookie",
        "logout",
        "revoke one session",
        "revoke the other sessions (2)",
    }
    assert store["all targets met"] is True
    assert all(size > 0 for size in store["stored bytes (overheads included)"].values())

    login_section = results["3. login round trips and cost"]
    assert login_section["round trips of a successful login"] == 2
    assert login_section["targets"]["2 round trips"] is True
    assert login_section["round trips of a code sign-in"] == 2
    assert login_section["targets"]["a code sign-in in 2 round trips"] is True
    # A warm social callback of a known identity: the attempt, the identity with the claim,
    # the session; the provider's token endpoint and UserInfo (its ID token has no email).
    assert login_section["its store calls"] == ["DeleteItem", "BatchGetItem", "TransactWriteItems"]
    assert login_section["its calls to the provider"] == ["POST /token", "GET /me"]
    assert login_section["targets"]["a social callback in at most 3 store round trips"] is True
    assert login_section["targets"]["a social callback in at most 2 provider calls"] is True
    assert len(login_section["argon2 parameter sets"]) == 3

    cold = results["4. cold start"]
    assert cold["pairs"] >= 2
    assert cold["ratio (median of the pairs' ratios)"] > 0
    assert isinstance(cold["target met"], bool)
    for section, ratio in [
        ("2. validation overhead", "ratio"),
        ("2. validation overhead", "bearer ratio"),
        ("3. login round trips and cost", "ratio login / argon2 verify"),
        ("5. scale", "validation ratio largest/smallest"),
    ]:
        assert results[section][ratio] > 0
    assert results["6. deployment package"]["files"] > 0
    tokens = results["8. access tokens"]
    assert tokens["store calls"] == ["GetItem"]
    assert tokens["ratio token / GetItem"] > 0
    assert 0 < tokens["signature share of a token"] < 1
    assert tokens["token size (bytes)"] > 0

    search = results["9. admin search"]
    # The admin's session, then one round of parallel Queries, one per shard of the search
    # index, at every size.
    assert all(calls == ["GetItem"] + ["Query"] * 16 for calls in search["store calls"].values())
    assert search["no Scan"] is True
    assert search["ratio largest/smallest"] > 0

    imported = results["11. import"]
    assert imported["users each way"] > 0
    assert imported["devtools.users import, users a second"] > 0
    assert imported["ratio import / raw (time per user)"] > 0
    assert isinstance(imported["target met"], bool)
    first, second = imported["store calls of a first sign-in that upgrades, and the next"].values()
    # The upgrade rides in the session's transaction: the same calls as any other login.
    assert first == second == ["BatchGetItem", "TransactWriteItems"]
    assert imported["a first sign-in that upgrades: 2 round trips"] is True
    from chalicelib.password_formats import FORMATS

    assert set(imported["verify time / our argon2id"]) == set(FORMATS)
    assert all(ratio > 0 for ratio in imported["verify time / our argon2id"].values())

    cost = results["7. cost against Amazon Cognito"]
    assert set(cost["per 1M requests (USD)"]) == {"1M protected requests", "1M logins"}
    monthly = cost["per month (USD)"]
    assert set(monthly) == {"10,000 MAU", "100,000 MAU", "1,000,000 MAU"}
    # Cognito's free tier covers 10,000 users; every figure is in dollars.
    assert monthly["10,000 MAU"]["Cognito Lite"] == "$0"
    for row in monthly.values():
        assert all(v.startswith("$") for k, v in row.items() if k != "requests")
    assert len(cost["break-even"]) == 6
    assert {"all-in, REST API", "all-in, HTTP API"} <= set(monthly["1,000,000 MAU"])
    ratios = cost["HTTP API at 1,000,000 MAU"]
    assert 0 < ratios["all-in HTTP API / all-in REST API"] < 1
    assert 0 < ratios["all-in HTTP API / Cognito Lite"] < 1
    (floor,) = [v for k, v in ratios.items() if k.startswith("the stack's floor")]
    assert 0 < floor < 1  # measured: the raw GetItem and the baseline's cold start
    assert all(isinstance(met, bool) for met in ratios["targets"].values())
    assert cost["assumptions"]
    assert all("checked" in source for source in cost["prices"].values())

    # The chart of a quick run lands beside its results, never over the committed one.
    chart = tmp_path / "cost-vs-cognito.svg"
    assert results["run"]["chart"] == str(chart)
    svg = ET.parse(chart).getroot()  # noqa: S314 (our own output)
    assert (
        len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 5
    )  # REST, HTTP, auth, 2x Cognito

    assert results["run"]["quick"] is True
    printed = capsys.readouterr().out
    assert "validation overhead" in printed
    assert "Cognito Essentials" in printed
    assert "all-in HTTP API / all-in REST API" in printed
    assert str(out) in printed
