"""The house's layout holds: chalicelib's import graph, every import counted (those under
TYPE_CHECKING and inside functions too), has no cycle, no module imports a layer above its own,
and README's Layout names every module where its layer is described."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICELIB = ROOT / "chalicelib"

# From the bottom up; a module may import its own layer and those below it.
BASE = {"errors", "clock", "config", "aws", "roles", "ids"}
LAYERS = ["base", "store", "concepts", "runtime", "flows", "web", "routes"]


def layer_of(module: str) -> str:
    """`module` as `chalicelib.x.y`."""
    parts = module.split(".")[1:]
    if not parts:
        return "base"  # the package's own (empty) __init__
    if parts[0] in ("store", "flows", "routes"):
        return parts[0]
    if parts[:2] in (["events", "consumer"], ["events", "delivery"]):
        return "routes"  # Lambda functions' entry points, each built on the runtime as app.py
    if parts[0] in BASE:
        return "base"
    if parts[0] in ("runtime", "web"):
        return parts[0]
    return "concepts"


def modules() -> dict[str, Path]:
    found = {}
    for path in CHALICELIB.rglob("*.py"):
        dotted = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        found[dotted.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The chalicelib modules `path` imports, wherever the import sits in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module not in known:
                continue
            for alias in node.names:  # `from chalicelib.flows import email`: the submodule
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {module: imports(path, set(found)) - {module} for module, path in found.items()}


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
        for module, targets in graph().items()
        for target in targets
        if LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(module))
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_layers_are_real():
    """The test above would pass vacuously if the graph were empty or misread."""
    edges = graph()
    assert "chalicelib.store.table" in edges["chalicelib.store.accounts"]
    assert "chalicelib.flows.context" in edges["chalicelib.flows.mailbox"]
    assert "chalicelib.runtime" in edges["chalicelib.web"]
    assert "chalicelib.flows.codes" in edges["chalicelib.routes.pages"]


def layout() -> dict[str, str]:
    """README's Layout, one text per bullet, keyed by what the bullet is about."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"\n- ", section)
    by_topic = {}
    for bullet in bullets:
        topic = re.match(r"`?([^`:]*)`?", bullet.strip()).group(1)
        by_topic[topic] = bullet
    return by_topic


def test_readme_layout_names_every_module_where_its_layer_is():
    bullets = layout()
    packages = {
        "store": "chalicelib/store/",
        "flows": "chalicelib/flows/",
        "routes": "chalicelib/routes/",
    }
    rest = "\n".join(text for topic, text in bullets.items() if topic not in packages.values())
    missing = []
    for module in modules():
        parts = module.split(".")[1:]
        if not parts:
            continue
        name = parts[-1]
        if name == "__init__" or module in (
            "chalicelib.store",
            "chalicelib.flows",
            "chalicelib.routes",
        ):
            continue
        text = bullets.get(packages[parts[0]], "") if parts[0] in packages else rest
        if not re.search(rf"`(chalicelib/)?{name}(\.py)?`", text):
            missing.append(module)
    assert missing == []
