"""Run the handler of a built deployment.zip as the AWS Lambda Python 3.13 runtime would.

The zip is unpacked into an empty folder (Lambda's /var/task) and its handler runs in a fresh
interpreter started with `-I -S`, whose import path is set to exactly that folder, a folder
exposing the packages the runtime ships (boto3 and its dependencies, linked from this venv),
and the standard library. Whatever requirements.txt forgot is then missing, as it would be on
Lambda, instead of being quietly found in the venv.

This file is both sides of that, and so imports only the standard library:
- imported (`PackagedHandler`), it unpacks, starts the interpreter and talks to it;
- run as a script by that interpreter, it is the driver: it imports the handler once, then
  reads API Gateway events as JSON lines on stdin and writes each response as a JSON line,
  one warm container for a whole scenario.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import IO, Any, NoReturn

# What the Lambda Python 3.13 runtime puts on the import path besides the function's own code:
# boto3, botocore and their dependencies (python-dateutil is imported as `dateutil`).
LAMBDA_RUNTIME_MODULES = (
    "boto3",
    "botocore",
    "jmespath",
    "s3transfer",
    "urllib3",
    "dateutil",
    "six",
)

DRIVER = Path(__file__).resolve()
# The driver's exit code when the handler cannot even be imported.
IMPORT_FAILED = 3


class HandlerFailed(RuntimeError):
    """The packaged handler could not be imported, crashed, or did not answer in time."""


def unpack(archive: Path, task_root: Path) -> Path:
    """Unpack the zip into an empty folder, as Lambda unpacks it into /var/task."""
    task_root.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(task_root)
    return task_root


def link_runtime(runtime_root: Path, modules: tuple[str, ...] = LAMBDA_RUNTIME_MODULES) -> Path:
    """A folder of symlinks to this interpreter's copies of the runtime's packages, and no more.

    Linking single packages rather than adding site-packages keeps everything else in the venv
    (chalice, moto, the app's own dependencies) out of the handler's reach.
    """
    runtime_root.mkdir(parents=True)
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"{name} is not installed here, so it cannot stand in")
        if spec.submodule_search_locations:  # a package: link its folder
            source = Path(next(iter(spec.submodule_search_locations)))
        else:  # a single-file module such as six.py
            source = Path(spec.origin)
        (runtime_root / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return runtime_root


class PackagedHandler:
    """One warm Lambda container: the handler imported once, then invoked event by event.

    `env` is the whole environment of the process; nothing is inherited from this one.
    """

    def __init__(
        self,
        task_root: Path,
        runtime_root: Path,
        handler: str,
        env: Mapping[str, str],
        timeout: float = 60,
    ) -> None:
        self.task_root = task_root
        self.runtime_root = runtime_root
        self.handler = handler
        self.env = dict(env)
        self.timeout = timeout
        # What the driver reports once the handler is imported: the standard library's path
        # entries, sys.path and sys.version_info.
        self.started: dict[str, Any] = {}
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        # A file, not a pipe: a chatty handler could fill a pipe nobody reads and stall.
        # Closed by __exit__, hence no `with`.
        self._stderr: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115

    def __enter__(self) -> PackagedHandler:
        self._process = subprocess.Popen(
            [
                sys.executable,
                # -I: no PYTHON* variables, user site or script folder on the path; -S: no
                # site-packages. -B: Lambda's /var/task is read-only, no bytecode is cached.
                *("-I", "-S", "-B"),
                str(DRIVER),
                *(str(self.task_root), str(self.runtime_root), self.handler),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self.env,
            cwd=self.task_root,  # Lambda's working directory is /var/task too
            text=True,
            encoding="utf-8",
        )
        # A thread reads stdout so that every wait for a line can have a timeout.
        self._reader = threading.Thread(
            target=self._read_lines, args=(self._pipe(self._process.stdout),), daemon=True
        )
        self._reader.start()
        try:
            self.started = self._receive(f"import the handler {self.handler}")
        except BaseException:
            self.__exit__(None, None, None)  # `with` calls it only once __enter__ returned
            raise
        return self

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        doing = f"answer {event.get('httpMethod')} {event.get('path')}"
        stdin = self._pipe(self._running().stdin)
        try:
            stdin.write(json.dumps(event) + "\n")
            stdin.flush()
        except BrokenPipeError:
            self._fail(doing)
        return self._receive(doing)

    def finish(self) -> dict[str, str]:
        """End the container; return where each module it imported came from (name -> file)."""
        process = self._running()
        try:
            self._pipe(process.stdin).close()  # end of input: the driver reports and exits
        except BrokenPipeError:
            self._fail("report its modules")
        modules: dict[str, str] = self._receive("report its modules")
        if process.wait(timeout=self.timeout) != 0:
            self._fail("exit cleanly")
        return modules

    @property
    def stderr(self) -> str:
        """What the handler logged so far (the app's stdout lands here too)."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is not None:
            if process.poll() is None:
                process.kill()
                process.wait()
            if self._reader is not None:
                self._reader.join(timeout=10)  # it reaches end of output once the process is gone
            for pipe in (process.stdin, process.stdout):
                # Closing flushes pending input, which a process that is gone cannot take.
                with contextlib.suppress(BrokenPipeError):
                    if pipe is not None:
                        pipe.close()
        self._stderr.close()

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise RuntimeError("use PackagedHandler as a context manager")
        return self._process

    @staticmethod
    def _pipe(pipe: IO[str] | None) -> IO[str]:
        if pipe is None:  # never: Popen was given PIPE for both
            raise RuntimeError("the process has no pipe")
        return pipe

    def _read_lines(self, stdout: IO[str]) -> None:
        for line in stdout:
            self._lines.put(line)
        self._lines.put(None)  # end of output: the process exited

    def _receive(self, doing: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self._running().kill()
            self._fail(doing, f"no answer within {self.timeout:.0f} s")
        if line is None:
            self._fail(doing)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _fail(self, doing: str, why: str = "") -> NoReturn:
        process = self._running()
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        why = why or (
            "the handler could not be imported (a dependency missing from requirements.txt?)"
            if code == IMPORT_FAILED
            else f"the process exited with code {code}"
        )
        raise HandlerFailed(
            f"the packaged Lambda handler failed to {doing}: {why}.\n"
            f"--- its stderr ---\n{self.stderr.rstrip() or '(empty)'}"
        )


# -- the driver, run by the isolated interpreter --------------------------------------------------


def _serve(task_root: str, runtime_root: str, handler_name: str) -> int:
    # Under -I -S the path holds only the standard library; put the function's code and the
    # runtime's packages in front, as Lambda does.
    stdlib = list(sys.path)
    sys.path[:] = [task_root, runtime_root, *stdlib]
    # The app logs to stdout (CloudWatch in Lambda), so responses get a descriptor of their own
    # and descriptor 1 becomes stderr before anything is imported.
    responses = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    module_name, _, attribute = handler_name.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except BaseException:
        traceback.print_exc()
        return IMPORT_FAILED

    def send(answer: Any) -> None:
        responses.write(json.dumps(answer) + "\n")
        responses.flush()

    send({"stdlib": stdlib, "sys_path": sys.path, "version_info": list(sys.version_info[:2])})
    for line in io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8"):
        # A stand-in for Lambda's context object (Chalice keeps it; the app does not read it).
        context = SimpleNamespace(
            function_name="session-auth",
            aws_request_id=str(uuid.uuid4()),
            memory_limit_in_mb="512",
            get_remaining_time_in_millis=lambda: 25_000,
        )
        send(handler(json.loads(line), context))
    # Where every imported module came from, the driver itself (`__main__`) aside.
    files = {name: getattr(module, "__file__", None) for name, module in sys.modules.items()}
    send({name: file for name, file in files.items() if file and file != __file__})
    return 0


if __name__ == "__main__":
    sys.exit(_serve(*sys.argv[1:]))
