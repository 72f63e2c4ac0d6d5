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
