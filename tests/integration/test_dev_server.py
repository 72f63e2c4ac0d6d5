"""`make dev` itself: however it is stopped (Ctrl-C, SIGTERM, SIGHUP) it stops everything it
started and the next run finds the data; if one of its children dies, it says which and stops."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devtools.dynamodb_local import ROOT, free_port
from devtools.outbox import Outbox
from tests.helpers import PASSWORD

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

EMAIL = "ann@example.com"


def descendants(pid: int) -> dict[int, list[str]]:
    """Every process under `pid` (pid -> its command line), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):  # a process that ended while we looked
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found: dict[int, list[str]] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child in [p for p, pp in parents.items() if pp == parent]:
            found[child] = command_line(child)
            todo.append(child)
    return found


def command_line(pid: int) -> list[str]:
    """[] once the process is gone; a zombie's is empty too, and it holds no port."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def kind_of(argv: list[str]) -> str:
    """java, node, python (the chalice server) or workers (the event workers, Python too)."""
    name = Path(argv[0]).name if argv else ""
    if "devtools.event_workers" in argv:
        return "workers"
    return "python" if name.startswith("python") or name == "chalice" else name


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Dev:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    children: dict[int, list[str]]  # found once it serves, before anything is stopped

    def output(self) -> str:
        return self.log.read_text()

    def child(self, program: str) -> int:
        """The child that runs `program` (a kind_of)."""
        return next(p for p, argv in self.children.items() if kind_of(argv) == program)

    def stop(self, signum: int = signal.SIGINT, *, group: bool = True) -> None:
        """The signal to make dev's process group (a terminal's Ctrl-C) or to it alone (kill):
        it must exit 0, nothing it started may be left running, and its ports are free."""
        dynamodb = re.search(r"DynamoDB Local on http://127\.0\.0\.1:(\d+)", self.output())
        (os.killpg if group else os.kill)(self.process.pid, signum)
        assert self.process.wait(timeout=30) == 0, self.output()
        self.assert_children_gone()
        assert not port_is_open(self.port)
        assert not dynamodb or not port_is_open(int(dynamodb.group(1)))

    def assert_children_gone(self) -> None:
        deadline = time.monotonic() + 5
        while left := [p for p, argv in self.children.items() if command_line(p) == argv]:
            assert time.monotonic() < deadline, f"still running: {left}\n{self.output()}"
            time.sleep(0.1)


@contextmanager
def running_dev(
    port: int, data_dir: Path, log: Path, env_changes: dict[str, str] | None = None
) -> Iterator[Dev]:
    """`make dev` (its script) on this port and data folder, serving; killed on the way out."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL_DYNAMODB"}
    # The outbox beside the log, not the project's .outbox/; PUBLIC_ORIGIN as make dev sets it.
    env.pop("PUBLIC_ORIGIN", None)
    env.update(
        PORT=str(port),
        DYNAMODB_DATA_DIR=str(data_dir),
        MAIL_OUTBOX_DIR=str(log.parent / "outbox"),
        **(env_changes or {}),
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.dev"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal would give it
            # The stop signals as a terminal gives them, however this suite was started: under
            # nohup (SIGHUP ignored) or as a background job of a script (SIGINT ignored), which
            # make dev honours, as a signal ignored from the start stays ignored.
            preexec_fn=_stop_signals_default,
        )  # fmt: skip
    dev = Dev(process, port, log, {})
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, f"make dev exited early\n{dev.output()}"
                assert time.monotonic() < deadline, "make dev did not start serving"
                time.sleep(0.3)
        dev.children = descendants(process.pid)
        yield dev
    finally:
        # Whatever failed, nothing outlives the test: make dev's group, and each child's own.
        for group in [process.pid, *dev.children]:
            with suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        process.wait()


def _stop_signals_default() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@dataclass
class Account:
    """A user signed up through make dev; later runs reuse its port and data folder."""

    port: int
    data_dir: Path
    token: str


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Account:
    folder = tmp_path_factory.mktemp("make-dev")
    port, data_dir = free_port(), folder / "data"
    with running_dev(port, data_dir, folder / "signup.log") as dev:
        signup = requests.post(
            f"http://127.0.0.1:{port}/auth/signup",
            json={"email": EMAIL, "password": PASSWORD},
            timeout=30,
        )
        assert signup.status_code == 201
        dev.stop()  # Ctrl-C in a terminal
    assert list(data_dir.iterdir()), "DynamoDB Local wrote no data"
    return Account(port, data_dir, signup.cookies["auth_session"])


@contextmanager
def restarted(account: Account, log: Path) -> Iterator[Dev]:
    """make dev again on the account's port and data: whichever way the run before it stopped,
    the port is free again and the session made before is still valid."""
    with running_dev(account.port, account.data_dir, log) as dev:
        response = requests.get(
            f"http://127.0.0.1:{account.port}/auth/session",
            cookies={"auth_session": account.token},
            timeout=30,
        )
        assert response.status_code == 200, dev.output()
        assert response.json()["user"]["email"] == EMAIL
        yield dev


# Ctrl-C in a terminal (SIGINT to the process group) is the `account` fixture's stop.
@pytest.mark.parametrize(
    "signum",
    [
        signal.SIGINT,
        signal.SIGTERM,  # an IDE's stop button, docker stop, a process manager
        signal.SIGHUP,  # the terminal closed
    ],
    ids=lambda signum: signum.name,
)
def test_a_stop_signal_stops_everything_make_dev_started(account, tmp_path, signum):
    with restarted(account, tmp_path / "dev.log") as dev:
        # The server, the event workers, DynamoDB Local and the local OpenID Provider.
        assert sorted(kind_of(argv) for argv in dev.children.values()) == [
            "java",
            "node",
            "python",
            "workers",
        ]
        dev.stop(signum, group=False)
        assert "DynamoDB stopped" in dev.output()  # after the server: the orderly path


@pytest.mark.parametrize(
    ("program", "name"),
    [
        pytest.param("java", "DynamoDB Local", id="DynamoDB Local dies"),
        pytest.param("python", "the chalice local server", id="the server dies"),
        pytest.param("node", "the local OpenID Provider", id="the provider dies"),
        pytest.param("workers", "the event workers", id="the event workers die"),
    ],
)
def test_when_a_child_dies_make_dev_names_it_and_stops_the_others(account, tmp_path, program, name):
    with restarted(account, tmp_path / "dev.log") as dev:
        os.kill(dev.child(program), signal.SIGKILL)
        assert dev.process.wait(timeout=30) != 0
        assert f"make dev: {name} exited unexpectedly (killed by SIGKILL)" in dev.output()
        dev.assert_children_gone()  # the other one too


def run_dev_briefly(env_changes: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    """Start make dev's script with these environment changes, sign up once, stop it."""
    port = free_port()
    with running_dev(port, tmp_path, tmp_path / "dev.log", env_changes) as dev:
        signup = requests.post(
            f"http://127.0.0.1:{port}/auth/signup",
            json={"email": EMAIL, "password": PASSWORD},
            timeout=30,
        )
        dev.stop()
    return signup.status_code, dev.output()


def test_make_dev_uses_a_given_endpoint_and_starts_no_dynamodb(live_server, tmp_path, monkeypatch):
    endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]  # the suite's DynamoDB Local
    monkeypatch.setenv("TABLE_NAME", "ignored")  # the stage's own name is used
    status, log = run_dev_briefly({"AWS_ENDPOINT_URL_DYNAMODB": endpoint}, tmp_path)
    assert status == 201
    assert "DynamoDB Local on" not in log
    assert "Table session-auth-local" in log
    tables = live_server.client.list_tables()["TableNames"]
    assert "session-auth-local" in tables
    live_server.client.delete_table(TableName="session-auth-local")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.log", "outbox"]  # no data folder
    # What a developer sees: where to browse, and the sign-up's code, in the console.
    assert re.search(r"Open http://localhost:\d+ in a browser", log)
    assert re.search(r"\[outbox\] to ann@example.com: Your verification code \| code \w{8}", log)
    (mail,) = Outbox(tmp_path / "outbox").messages()
    assert mail.to == "ann@example.com"


def test_make_dev_without_java_falls_back_to_moto_with_a_warning(tmp_path):
    # Only the virtual environment on PATH: no java (Debian's lives in /usr/bin), no node.
    status, log = run_dev_briefly({"PATH": str(Path(sys.executable).parent)}, tmp_path)
    assert status == 201
    assert "WARNING: `java` not found; using moto's in-memory DynamoDB" in log
    assert "WARNING: `node` not found; starting no local OpenID Provider" in log


def test_make_dev_signs_in_with_its_local_provider_and_lets_the_example_spa_in(tmp_path):
    from devtools.oidc_local import sign_in

    port = free_port()
    with running_dev(port, tmp_path / "data", tmp_path / "dev.log") as dev:
        assert re.search(r"Local OpenID Provider on http://127\.0\.0\.1:\d+", dev.output())
        browser = requests.Session()
        app = f"http://localhost:{port}"
        start = browser.get(f"{app}/auth/oauth/local", allow_redirects=False, timeout=30)
        assert start.status_code == 303
        callback = sign_in(browser, start.headers["Location"], "dev@example.com", app)
        assert browser.get(callback, allow_redirects=False, timeout=30).status_code == 303
        session = browser.get(f"{app}/auth/session", timeout=30).json()
        assert session["user"]["email"] == "dev@example.com"
        # The console logs the callback without its query: its code and state are secrets.
        query = parse_qs(urlsplit(callback).query)
        assert '"GET /auth/oauth/local/callback HTTP/1.1" 303' in dev.output()
        for secret in (query["code"][0], query["state"][0]):
            assert secret not in dev.output()
        # examples/spa's origin is in CORS_ORIGINS unless the shell says otherwise.
        spa = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
        preflight = requests.options(f"{app}/auth/login", headers=spa, timeout=30)
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
        dev.stop()


def test_make_dev_uses_the_shells_providers_and_starts_none(tmp_path):
    status, log = run_dev_briefly({"OAUTH_PROVIDERS": ""}, tmp_path)
    assert status == 201
    assert "Local OpenID Provider" not in log
