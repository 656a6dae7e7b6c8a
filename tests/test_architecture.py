"""The import contract: the layers of docs/architecture.md, checked on the source.

* A module imports only from its own layer or the layers below it (``LAYERS``, top first).
* No import cycles between modules, whether the import sits at module level or in a function.
* Imports of project modules sit at module level (or under ``TYPE_CHECKING``), except in the
  entry points of ``LAZY_ENTRY_POINTS``: the command line loads each command's implementation
  when the command runs, so that ``yuqing --help`` starts fast, and the scheduler's job table
  loads each job's when the job first runs, so the long-running service stays small. Function-level imports of other packages are allowed only for
  the optional or heavy ones of ``LAZY_THIRD_PARTY``.
* Product code never imports the simulator: only the demo, the stand-ins and the CLI may.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crawler", "alerts", "spiders", "sentiment", "simulator")

# The modules at the root of ``crawler/``: anything else there must go into a layer's subpackage.
FOUNDATION = ("clock", "config", "errors", "items", "logging", "names", "paths", "procs", "settings")
# Top first. A module belongs to the first entry that names it or a package above it; the
# bare names ``crawler`` and ``alerts`` stand for those packages' ``__init__`` only.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cli", ("crawler.cli",)),
    ("demo and stand-ins", ("simulator.demo", "simulator.fakedata", "simulator.receiver")),
    ("api", ("crawler.api",)),
    ("service", ("crawler.service",)),
    ("analytics", ("crawler.analytics",)),
    ("spiders", ("spiders",)),
    ("scraping", ("crawler.scraping",)),
    ("platform", ("crawler.platform",)),
    ("triage", ("alerts.triage",)),
    ("complaints", ("alerts.complaints",)),
    ("delivery", ("alerts.delivery",)),
    ("alert rules", ("alerts.rules", "alerts")),
    ("sentiment", ("sentiment",)),
    ("storage", ("crawler.storage",)),
    ("foundation", ("crawler", *(f"crawler.{m}" for m in FOUNDATION))),
)
# The simulated platforms stand beside the product: they import none of it, and only the demo,
# the stand-ins and the CLI import them.
SIMULATOR = "simulator"
LAZY_ENTRY_POINTS = ("crawler.cli", "crawler.service.jobs")
MAY_IMPORT_SIMULATOR = ("crawler.cli", "simulator")
# Function-level imports of other packages: optional, heavy or only needed on one path.
LAZY_THIRD_PARTY = frozenset(
    {
        "playwright",  # a browser, only for Douyin's browser mode, logins and PDF reports
        "openpyxl",  # XLSX export only
        "sklearn",  # training only (the `train` extra)
        "scipy",
        "snownlp",  # training and the baseline of the benchmarks only
        "uvicorn",  # `yuqing serve`
        "scrapy",  # the crawl machinery, only in the processes that crawl
        "twisted",
        "scrapy_redis",
        "redis",  # distributed mode only
        "apscheduler",  # `yuqing run` only
        "alembic",  # migrations only
        "psutil",
        "xhshow",
        "aiosmtpd",
        "fastapi",
        "jinja2",
        "httpx",
        "rich",
        "typer",
        "fcntl",  # POSIX file locks, on the one path that needs them
        "rjieba",  # the compiled segmenter: optional, loaded by the engine that uses it
        "jieba",  # the Python segmenter: only for the Python engine (20 MB)
    }
)


@dataclass(frozen=True, slots=True)
class Edge:
    src: str
    dst: str
    line: int
    in_function: bool
    type_only: bool


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:`` (not ``not TYPE_CHECKING``, not ``and``)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _edges() -> tuple[list[Edge], list[tuple[str, int, str]]]:
    edges: list[Edge] = []
    lazy_other: list[tuple[str, int, str]] = []
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]

        def visit(
            node: ast.AST, in_func: bool, type_only: bool, mod: str = mod, package: str = package
        ) -> None:
            for child in ast.iter_child_nodes(node):
                handle(child, in_func, type_only, mod, package)

        def handle(child: ast.AST, in_func: bool, type_only: bool, mod: str, package: str) -> None:
            func = in_func or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                # only the body never runs; its ``else:`` does
                for stmt in child.body:
                    handle(stmt, func, True, mod, package)
                for stmt in child.orelse:
                    handle(stmt, func, type_only, mod, package)
                return
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{a.name}" for a in child.names]
            else:
                visit(child, func, type_only, mod, package)
                return
            for target in targets:
                top = target.split(".")[0]
                if top in PACKAGES:
                    dst = _resolve(target)
                    if dst and dst != mod:
                        edges.append(Edge(mod, dst, child.lineno, in_func, type_only))
                elif in_func and not type_only and top not in LAZY_THIRD_PARTY:
                    lazy_other.append((mod, child.lineno, target))

        visit(tree, False, False)
    return edges, lazy_other


EDGES, LAZY_OTHER = _edges()


_ROOTS = ("crawler", "alerts")  # their own __init__ only, not everything under them


def _layer(mod: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if mod == p or (p not in _ROOTS and mod.startswith(p + ".")):
                return i
    raise AssertionError(f"{mod} is in no layer: add it to LAYERS (and docs/architecture.md)")


def _where(e: Edge) -> str:
    return f"{MODULES[e.src].relative_to(ROOT)}:{e.line}"


def test_every_module_has_a_layer() -> None:
    for mod in MODULES:
        if mod == SIMULATOR or mod.startswith(SIMULATOR + "."):
            continue
        _layer(mod)


def test_imports_go_down_the_layers() -> None:
    bad = []
    for e in EDGES:
        sim_src = e.src.split(".")[0] == SIMULATOR and _sim_core(e.src)
        sim_dst = e.dst.split(".")[0] == SIMULATOR and _sim_core(e.dst)
        if sim_src or sim_dst:
            continue
        if _layer(e.dst) < _layer(e.src):
            bad.append(
                f"{_where(e)}: {e.src} ({LAYERS[_layer(e.src)][0]}) imports {e.dst} "
                f"({LAYERS[_layer(e.dst)][0]}), a higher layer"
            )
    assert not bad, "\n".join(bad)


def _sim_core(mod: str) -> bool:
    return not any(mod == p or mod.startswith(p + ".") for p in LAYERS[1][1])


def test_the_simulator_stands_apart() -> None:
    bad = []
    for e in EDGES:
        if _sim_core(e.dst) and e.dst.split(".")[0] == SIMULATOR:
            if not any(e.src == p or e.src.startswith(p + ".") for p in MAY_IMPORT_SIMULATOR):
                bad.append(f"{_where(e)}: {e.src} imports the simulator ({e.dst})")
        if e.src.split(".")[0] == SIMULATOR and _sim_core(e.src) and e.dst.split(".")[0] != SIMULATOR:
            if e.type_only:  # annotations only (it takes a config object): nothing runs
                continue
            bad.append(f"{_where(e)}: the simulator ({e.src}) imports product code ({e.dst})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for e in EDGES:
        if not e.type_only:
            graph[e.src].add(e.dst)
    # Tarjan's strongly connected components.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(MODULES):
        if v not in index:
            strong(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_project_imports_sit_at_module_level() -> None:
    bad = [
        f"{_where(e)}: {e.src} imports {e.dst} inside a function"
        for e in EDGES
        if e.in_function
        and not e.type_only
        and not any(e.src == p or e.src.startswith(p + ".") for p in LAZY_ENTRY_POINTS)
    ]
    assert not bad, "\n".join(bad)


def test_function_level_imports_are_for_heavy_or_optional_packages() -> None:
    bad = [f"{MODULES[m].relative_to(ROOT)}:{line}: {target}" for m, line, target in LAZY_OTHER]
    assert not bad, "function-level imports of light packages (hoist them):\n" + "\n".join(bad)


def test_the_contract_sees_the_code() -> None:
    # The checks above mean something only if the walk found the modules and their imports.
    assert len(MODULES) > 150
    assert sum(not e.in_function for e in EDGES) > 800
    assert _layer("crawler.cli.app") < _layer("crawler.service.daemon") < _layer("crawler.storage.engine")
