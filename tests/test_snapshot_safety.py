"""What importing the app (Lambda's INIT phase) leaves behind is safe to snapshot.

SnapStart (priced in docs/performance.md, not enabled) would resume many containers from one
memory image taken after INIT: anything unique made then (keys, random state, connections,
clients with their credentials) would be shared by all of them. The app makes none of these at
import; everything per container is built on the first request (chalicelib.runtime.get).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from devtools.dynamodb_local import ROOT

# Run in a fresh interpreter: this one has long since built services and imported everything.
PROBE = """
import json, os, random, sys
import app
from chalicelib import runtime

ours = [m for n, m in sys.modules.items() if n == "app" or n.startswith("chalicelib")]
generators = [
    f"{m.__name__}.{name}"
    for m in ours
    for name, value in vars(m).items()
    if isinstance(value, random.Random) and not isinstance(value, random.SystemRandom)
]
def target(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except FileNotFoundError:  # the descriptor listdir itself had open
        return ""
sockets = [fd for fd in os.listdir("/proc/self/fd") if target(fd).startswith("socket:")]
print(json.dumps({
    "services": runtime._services is not None,
    "generators": generators,
    "sockets": len(sockets),
    "modules": sorted(m.__name__ for m in ours),
}))
"""


def test_importing_the_app_makes_no_services_connections_or_random_state():
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    assert "chalicelib.runtime" in found["modules"]
    assert found["services"] is False  # no client, keyring, settings or clock yet
    assert found["generators"] == []
    assert found["sockets"] == 0


def test_our_code_never_draws_from_randoms_shared_generator():
    """`random.uniform(...)` and friends use the generator seeded at import: the same sequence
    in every restored container. Secrets come from `secrets`; jitter from a SystemRandom."""
    shared = []
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "random"
                and node.attr != "SystemRandom"
            ):
                shared.append(f"{path.relative_to(ROOT)}:{node.lineno} random.{node.attr}")
    assert shared == []
