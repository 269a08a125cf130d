"""The layout rules of ARCHITECTURE.md, checked: no import circles, short modules, packages
that say what lives in them, and a tree in ARCHITECTURE.md that matches the one on disk."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dialer", "ami", "pacing", "compliance")
MAX_LINES = 650


def _modules() -> dict[str, Path]:
    """Every project module by dotted name (packages by their own name); migrations excluded."""
    found: dict[str, Path] = {}
    for top in (*PACKAGES, "scripts"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:
                continue
            name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> list[str]:
    """The project modules an import statement reaches, wherever it stands (TYPE_CHECKING
    blocks and function bodies count: a lazy import is still a dependency)."""
    targets: list[str] = []
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    reached = []
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != module:
            reached.append(target)
    return reached


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name].update(_imported(name, path, node, modules))
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_circles(graph) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    assert import_circles(import_graph()) == []


def test_pure_packages_stay_pure() -> None:
    """pacing/ and compliance/ import no sockets, SQL or asyncio; ami/ knows no campaigns."""
    graph = import_graph()
    for name, deps in graph.items():
        top = name.split(".")[0]
        if top in ("pacing", "compliance"):
            assert not {d for d in deps if d.split(".")[0] in ("dialer", "ami")}, name
        if top == "ami":
            assert not {d for d in deps if d.split(".")[0] == "dialer"}, name
    for path in [*(ROOT / "pacing").rglob("*.py"), *(ROOT / "compliance").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for imported in names:
                    assert imported.split(".")[0] not in ("asyncio", "asyncpg", "sqlalchemy", "socket"), path


def test_no_module_over_the_limit() -> None:
    files = [p for top in (*PACKAGES, "scripts", "tests") for p in (ROOT / top).rglob("*.py")]
    too_long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}


def test_every_package_and_module_says_what_it_is() -> None:
    silent = []
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            if not ast.get_docstring(ast.parse(path.read_text())):
                silent.append(str(path.relative_to(ROOT)))
    assert silent == []


def architecture_tree() -> set[str]:
    """The paths listed in ARCHITECTURE.md's tree block (two spaces per level)."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = text.split("<!-- tree -->", 2)[1].split("```")[1]
    listed: set[str] = set()
    parents: list[str] = []
    for line in block.splitlines()[1:]:
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        entry = line.split()[0]
        parents = parents[:depth]
        listed.add("".join(parents) + entry)
        if entry.endswith("/"):
            parents.append(entry)
    return listed


def tree_on_disk() -> set[str]:
    on_disk: set[str] = set()
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:
                continue
            on_disk.update(f"{'/'.join(rel.parts[:i])}/" for i in range(1, len(rel.parts)))
            if path.name != "__init__.py":
                on_disk.add(str(rel))
    return on_disk


def test_architecture_md_matches_the_tree() -> None:
    listed = {p for p in architecture_tree() if p.split("/")[0] in PACKAGES}
    on_disk = tree_on_disk()
    assert sorted(on_disk - listed) == [], "on disk but missing from ARCHITECTURE.md"
    assert sorted(listed - on_disk) == [], "in ARCHITECTURE.md but not on disk"
