"""The house: one package per stage, no import cycle, each package's stated contract kept.

Each package's ``__init__`` docstring states what it may import from ablate and whether it
may load torch (the ``Imports from ablate:`` and ``Torch:`` lines); these tests read those
lines and check them against the import graph (parsed with ast) and against what a fresh
interpreter actually loads, so the docstrings cannot drift from the code.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "ablate"
TOP_FILES = {"__init__.py", "__main__.py", "cli.py"}  # the top level keeps only the CLI
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
PACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())


def stage(module: str) -> str:
    """The package (stage) a module belongs to: 'spec', 'train', ...; 'cli' for the CLI
    files of the top level; 'ablate' for the root package (its docstring and the lazy
    ``load_run``: anyone may import it; test_the_root_package_loads_load_run_lazily)."""
    parts = module.split(".")
    if module == "ablate":
        return "ablate"
    return parts[1] if len(parts) > 2 or parts[1] in PACKAGES else "cli"


class Imports(ast.NodeVisitor):
    """Every ablate module a module imports: at the top, inside functions, anywhere, except
    under ``if TYPE_CHECKING:`` (annotations only, never executed)."""

    def __init__(self, name: str, is_package: bool):
        self.name, self.is_package, self.found = name, is_package, set()

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found |= {a.name for a in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:  # relative: from the package this module is in
            here = self.name.split(".")[: len(self.name.split(".")) - (not self.is_package)]
            base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
        for alias in node.names:  # `from pkg import module` imports pkg.module
            full = f"{base}.{alias.name}"
            self.found.add(full if full in MODULES else base)


def imports_of(name: str) -> set[str]:
    path = MODULES[name]
    visitor = Imports(name, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text()))
    found = set()
    for target in visitor.found:
        parts = target.split(".")
        # importing a.b.c runs a/__init__ and a/b/__init__ first: those are imports too
        found |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle_between_modules():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


def test_no_import_cycle_between_stages():
    stages: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        stages.setdefault(stage(name), set()).update(stage(t) for t in targets)
    stages = {s: {t for t in targets if t not in (s, "ablate")} for s, targets in stages.items()}
    # the calibration worker trains real runs in a process of its own (its contract says so)
    stages["estimate"] -= {"cli"}
    assert find_cycle(stages) is None, " -> ".join(find_cycle(stages))


# ---------------------------------------------------------------- each package's contract


def contract(package: str) -> tuple[set[str], dict[str, set[str]], str, set[str]]:
    """(packages it may import, {module: extra packages}, torch rule, modules named by it)
    from the package docstring's ``Imports from ablate:`` and ``Torch:`` lines."""
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text())) or ""
    imports = re.search(r"^Imports from ablate:(.*?)^Torch:(.*?)(?:\n\n|\Z)", doc, re.M | re.S)
    assert imports, f"ablate/{package}/__init__.py states no 'Imports from ablate:'/'Torch:'"
    allowed_text, torch_text = (re.sub(r"\([^)]*\)", "", g) for g in imports.groups())
    first, *special = allowed_text.replace("\n", " ").strip(" .").split(";")
    allowed = set(re.findall(r"\w+", first)) - {"nothing", "and"}
    per_module = {}
    for part in special:
        module, also, *names = re.findall(r"\w+", part)
        assert also == "also", f"ablate/{package}: '{part.strip()}' is not 'MODULE also PKG, ...'"
        per_module[module] = set(names)
    rule = torch_text.strip().split()[0].strip(".,")
    torch_modules = set()
    if rule == "only":
        torch_modules = set(re.findall(r"\w+", torch_text.replace("only in", "", 1)))
    assert rule in {"never", "yes", "only"}, f"ablate/{package}: Torch: {torch_text.strip()!r}"
    return allowed, per_module, rule, torch_modules


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_its_docstring_allows(package):
    allowed, per_module, _, _ = contract(package)
    assert allowed | set().union(*per_module.values()) <= set(PACKAGES) | {"cli"}, allowed
    for name, targets in GRAPH.items():
        if stage(name) != package:
            continue
        leaf = name.rsplit(".", 1)[-1]
        ok = allowed | per_module.get(leaf, set()) | {package, "ablate"}
        wrong = sorted(t for t in targets if stage(t) not in ok)
        assert not wrong, f"{name} imports {wrong}; ablate/{package} may import only {sorted(ok)}"


IMPORTABLE = [m for m in MODULES if m != "ablate.__main__"]  # that one runs the CLI


def test_python_dash_m_ablate_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "ablate", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "estimate" in done.stdout, done.stdout + done.stderr


def fresh_import(module: str) -> dict:
    code = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
        "print(json.dumps({'torch': 'torch' in sys.modules}))"
    )
    env = os.environ | {"PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code, module], capture_output=True, text=True, env=env, cwd=ROOT
    )
    return {"rc": done.returncode, "err": done.stderr[-2000:], **json.loads(done.stdout or "{}")}


@pytest.fixture(scope="module")
def fresh_imports() -> dict[str, dict]:
    """Every module imported alone in a fresh interpreter (so none works only because
    another was imported first), two at a time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(IMPORTABLE, pool.map(fresh_import, IMPORTABLE), strict=True))


def test_every_module_imports_alone_in_a_fresh_interpreter(fresh_imports):
    failed = {m: r["err"] for m, r in fresh_imports.items() if r["rc"] != 0}
    assert not failed, failed


@pytest.mark.parametrize("package", PACKAGES)
def test_torch_is_loaded_only_where_the_package_says(package, fresh_imports):
    _, _, rule, torch_modules = contract(package)
    assert torch_modules <= {n.rsplit(".", 1)[-1] for n in MODULES if stage(n) == package}
    for name, result in fresh_imports.items():
        if stage(name) != package or rule == "yes":
            continue
        leaf = name.rsplit(".", 1)[-1]
        if result.get("torch"):
            assert rule == "only" and leaf in torch_modules, f"importing {name} loads torch"


def test_the_root_package_loads_load_run_lazily(fresh_imports):
    """The root's one exception to 'a docstring only': ``ablate.load_run`` for notebooks,
    imported on first use (PEP 562 __getattr__), so ``import ablate`` loads no torch."""
    assert GRAPH["ablate"] == {"ablate.train", "ablate.train.saved_model"}
    tree = ast.parse(MODULES["ablate"].read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not top, "the root package imports at its top level: import ablate would pay"
    assert fresh_imports["ablate"] == {"rc": 0, "err": "", "torch": False}


def test_the_workflow_imports_no_torch():
    """What Snakemake imports while it parses (workflow/rules/*.smk) is torch-free: a no-op
    rerun stays fast."""
    smk = "\n".join(p.read_text() for p in sorted((ROOT / "workflow" / "rules").glob("*.smk")))
    modules = sorted(set(re.findall(r"^\s*from (ablate[\w.]*) import", smk, re.M)))
    assert modules, "the rules import nothing from ablate?"
    code = f"import sys; import {', '.join(modules)}; print('torch' in sys.modules)"
    env = os.environ | {"PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "False", done.stdout + done.stderr


# ---------------------------------------------------------------- the layout itself


def test_the_top_level_keeps_only_the_cli_and_the_stage_packages():
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert entries - set(PACKAGES) == TOP_FILES
    # ten stages and launch/ (how a command's process starts, used by every stage's command)
    assert len(PACKAGES) <= 11, PACKAGES


def test_no_two_modules_or_packages_share_a_name():
    names: dict[str, list[str]] = {}
    for name in MODULES:
        leaf = name.rsplit(".", 1)[-1]
        if leaf not in ("__main__",):
            names.setdefault(leaf, []).append(name)
    shared = {leaf: found for leaf, found in names.items() if len(found) > 1}
    assert not shared, shared


@pytest.mark.parametrize("folder", ["src", "tests", "bench"])
def test_no_file_is_longer_than_the_limit(folder):
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted((ROOT / folder).rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_docs_layout_lists_each_package_with_the_imports_its_docstring_allows():
    """docs/layout.md repeats the contracts for a reader; it must say what the code says."""
    rows = re.findall(
        r"^\| `(\w+)/` \|[^|]*\|([^|]*)\|", (ROOT / "docs" / "layout.md").read_text(), re.M
    )
    assert sorted(name for name, _ in rows) == PACKAGES
    known = set(PACKAGES) | {"cli"}
    for name, cell in rows:
        allowed, per_module, _, _ = contract(name)
        shown = {w.split(".")[0] for w in re.findall(r"`([\w.]+)`", cell)} & known
        assert shown == allowed | set().union(*per_module.values()), (name, cell)
