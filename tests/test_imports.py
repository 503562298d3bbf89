"""edgevision's import graph, read with ``ast``: module-level imports run in one direction (no cycle), the stage
packages in ``CHECKED`` import edgevision modules at module level (a function-level one is in ``LAZY``, with the
optional dependency that justifies it), and ``import edgevision.cli`` loads no heavy dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import edgevision

ROOT = Path(edgevision.__file__).parent
CHECKED = ("edgevision.fpga", "edgevision.recognition", "edgevision.datasets", "edgevision.events", "edgevision.sim",
           "edgevision.bench")
# (importer, imported): why the import waits for the call
LAZY = {
    ("edgevision.recognition.sources", "edgevision.recognition.tonic_sources"):
        "tonic (the [recognition] extra) is needed only for KIND:ROOT specs, not for synthetic sets",
}
# Not in the core install (pyproject extras), or slow to import: a lazy import of one of these is fine anywhere.
OPTIONAL = {"torch", "spconv", "snntorch", "tonic", "matplotlib", "onnx", "onnxruntime", "threadpoolctl", "hls4ml", "pynq",
            "dv_processing", "expelliarmus", "aedat"}
HEAVY = OPTIONAL | {"numba", "h5py", "cv2", "scipy", "faery"}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in ROOT.rglob("*.py") if "_shipped" not in p.parts}


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Absolute names ``node`` imports: a submodule where ``from pkg import sub`` names one, else the module."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _own(name: str) -> str:
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _scan() -> tuple[dict[str, set[str]], dict[str, set[str]], list[tuple[str, int, str]]]:
    """(module-level edgevision imports, module-level third-party top names, function-level edgevision imports)."""
    own: dict[str, set[str]] = {m: set() for m in MODULES}
    third: dict[str, set[str]] = {m: set() for m in MODULES}
    lazy: list[tuple[str, int, str]] = []

    def visit(module: str, node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for name in _imported(module, child):
                    if name.split(".")[0] != "edgevision":
                        if not in_function and not type_only:
                            third[module].add(name.split(".")[0])
                    elif in_function:
                        lazy.append((module, child.lineno, _own(name)))
                    elif not type_only:
                        own[module].add(_own(name))
            visit(module, child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)),
                  type_only or (isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)))

    for module, path in MODULES.items():
        visit(module, ast.parse(path.read_text()), False, False)
        own[module].discard(module)
    return own, third, lazy


OWN, THIRD, LAZY_FOUND = _scan()


def _loads(module: str) -> set[str]:
    """Third-party top-level names importing ``module`` loads (its packages' ``__init__`` included)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [*OWN[m], *(p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in MODULES)]
    return set().union(*(THIRD[m] for m in seen))


def test_module_level_imports_have_no_cycle():
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def walk(path: list[str]) -> None:
        state[path[-1]] = 1
        for t in sorted(OWN[path[-1]]):
            assert state.get(t) != 1, "import cycle: " + " -> ".join(path[path.index(t):] + [t])
            if t not in state:
                walk(path + [t])
        state[path[-1]] = 2

    for m in sorted(MODULES):
        if m not in state:
            walk([m])


def test_function_level_imports_of_own_modules_are_listed():
    found = {(m, t): line for m, line, t in LAZY_FOUND if m.startswith(CHECKED)}
    unlisted = [f"{MODULES[m].relative_to(ROOT.parent)}:{line}: imports {t}" for (m, t), line in found.items() if (m, t) not in LAZY]
    assert not unlisted, "import these at module level (or list them in LAZY with a reason):\n" + "\n".join(unlisted)
    assert not set(LAZY) - set(found), f"LAZY lists imports that are gone: {sorted(set(LAZY) - set(found))}"


def test_each_listed_lazy_import_defers_an_optional_dependency():
    for importer, target in LAZY:
        deferred = (_loads(target) - _loads(importer)) & OPTIONAL
        assert deferred, f"{importer} -> {target}: defers no optional dependency; import it at module level"


def test_cli_import_loads_no_heavy_dependency():
    assert not _loads("edgevision.cli") & HEAVY
