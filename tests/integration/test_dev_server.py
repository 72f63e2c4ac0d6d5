"""`make dev` itself: the service it runs keeps its data across a restart, and Ctrl-C stops
everything it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from devtools.dynamodb_local import ROOT, free_port

PASSWORD = "correct horse battery"


def start_dev(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL_DYNAMODB"}
    env.update(PORT=str(port), DYNAMODB_DATA_DIR=str(data_dir))
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
            return process
        except requests.ConnectionError:
            assert process.poll() is None, "make dev exited early"
            time.sleep(0.3)
    stop_dev(process)
    raise TimeoutError("make dev did not start serving")


def stop_dev(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
    process.wait(timeout=30)


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_session_survives_a_restart_of_make_dev(tmp_path):
    port = free_port()
    first = start_dev(port, tmp_path)
    try:
        signup = requests.post(
            f"http://127.0.0.1:{port}/auth/signup",
            json={"email": "ann@example.com", "password": PASSWORD},
            timeout=30,
        )
        assert signup.status_code == 201
        token = signup.cookies["auth_session"]
    finally:
        stop_dev(first)
    assert not port_is_open(port)
    assert list(tmp_path.iterdir()), "DynamoDB Local wrote no data"

    second = start_dev(port, tmp_path)
    try:
        response = requests.get(
            f"http://127.0.0.1:{port}/auth/session",
            cookies={"auth_session": token},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.json()["user"]["email"] == "ann@example.com"
    finally:
        stop_dev(second)


def run_dev_briefly(env_changes: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    """Start make dev's script with these environment changes, sign up once, stop it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL_DYNAMODB"}
    env.update(PORT=str(port), DYNAMODB_DATA_DIR=str(tmp_path), **env_changes)
    log = tmp_path / "dev.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.dev"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while not port_is_open(port):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "make dev did not start serving"
                time.sleep(0.3)
            signup = requests.post(
                f"http://127.0.0.1:{port}/auth/signup",
                json={"email": "ann@example.com", "password": PASSWORD},
                timeout=30,
            )
        finally:
            stop_dev(process)
    return signup.status_code, log.read_text()


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
    assert [p.name for p in tmp_path.iterdir()] == ["dev.log"]  # no data folder written


def test_make_dev_without_java_falls_back_to_moto_with_a_warning(tmp_path):
    # Only the virtual environment on PATH: no java (Debian's lives in /usr/bin).
    status, log = run_dev_briefly({"PATH": str(Path(sys.executable).parent)}, tmp_path)
    assert status == 201
    assert "WARNING: `java` not found; using moto's in-memory DynamoDB" in log
