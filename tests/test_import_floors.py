"""The floors: every import inside the package points down, never up and never across.

    ground      quanzi.settings, quanzi.progress, quanzi.polling (everyone may use them)
    1 storage   quanzi.storage
    2 datasets  quanzi.datasets
    3 models    quanzi.models (loading and running a champion included)
    4 ranking   quanzi.models.ranking (the feed-ranking core)
    5 training | evaluation | serving   side by side: none imports another
    6 CLI       quanzi.cli, quanzi.cli_groups, quanzi.commands

Every ``import`` statement is read with ``ast`` — at module level and inside functions —
so a loop cannot hide in a function-local import. Outside the CLI (whose lazy imports
keep ``quanzi --help`` fast) a function-local import needs a stated reason below.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
    "setuptools"
]["package-dir"]

GROUND = {"quanzi", "quanzi.settings", "quanzi.progress", "quanzi.polling"}
# Longest prefix wins: (module prefix, level, room).
FLOORS = [
    ("quanzi.storage", 1, "storage"),
    ("quanzi.datasets", 2, "datasets"),
    ("quanzi.models", 3, "models"),
    ("quanzi.models.ranking", 4, "ranking"),
    ("quanzi.training", 5, "training"),
    ("quanzi.evaluation", 5, "evaluation"),
    ("quanzi.serving", 5, "serving"),
    ("quanzi.cli", 6, "cli"),
    ("quanzi.cli_groups", 6, "cli"),
    ("quanzi.commands", 6, "cli"),
]
CLI_LEVEL = 6
# Function-local imports outside the CLI, each with why it is not at module level.
LAZY_IMPORTS = {
    (
        "quanzi.models.quality",
        "quanzi.models.encoder",
    ): "torch and sentence-transformers load only for a quality model that uses the "
    "encoder (most do not), so `quanzi score` and the CLI's model commands stay light",
    (
        "quanzi.models.qa.predictor",
        "quanzi.models.encoder",
    ): "the Q&A champion scores with the worker's encoder; torch loads only when its "
    "pyfunc scores records outside the service",
}


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the distribution, by dotted name, with its file."""
    for package, folder in PACKAGE_DIR.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            top = package.split(".")
            if package == "quanzi" and parts and ".".join(["quanzi", parts[0]]) in PACKAGE_DIR:
                continue  # a folder of its own in package-dir (none today)
            yield ".".join(top + parts), path


KNOWN = {name for name, _ in modules()}


def floor_of(module: str) -> tuple[int, str] | None:
    if module in GROUND:
        return 0, "ground"
    best: tuple[str, int, str] | None = None
    for prefix, level, room in FLOORS:
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, level, room)
    return None if best is None else (best[1], best[2])


def imports(module: str, path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line, imported quanzi module, inside a function) for each import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def walk(node: ast.AST, local: bool) -> Iterator[tuple[int, str, bool]]:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield child.lineno, alias.name, local
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    yield child.lineno, sub if sub in KNOWN else target, local
            yield from walk(child, inner)

    for line, target, local in walk(tree, False):
        if target == "quanzi" or target.startswith("quanzi."):
            yield line, target, local


def test_every_module_stands_on_a_floor() -> None:
    homeless = sorted(name for name in KNOWN if floor_of(name) is None)
    assert homeless == [], "add these modules' folders to FLOORS (or GROUND)"


def test_imports_only_point_down() -> None:
    wrong = []
    for module, path in modules():
        here = floor_of(module)
        assert here is not None
        for line, target, local in imports(module, path):
            there = floor_of(target)
            if there is None:
                wrong.append(f"{module}:{line} imports {target}, which is on no floor")
                continue
            up = there[0] > here[0]
            across = there[0] == here[0] == 5 and there[1] != here[1]
            if up or across:
                where = "inside a function" if local else "at module level"
                wrong.append(f"{module}:{line} ({here[1]}) imports {target} ({there[1]}) {where}")
    assert wrong == [], "imports that point up or across:\n" + "\n".join(wrong)


def test_function_local_imports_outside_the_cli_have_a_reason() -> None:
    found = set()
    for module, path in modules():
        floor = floor_of(module)
        if floor is None or floor[0] == CLI_LEVEL:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    found.update((module, alias.name) for alias in inner.names)
                elif isinstance(inner, ast.ImportFrom):
                    found.add((module, inner.module or "."))
    unexplained = sorted(found - LAZY_IMPORTS.keys())
    assert unexplained == [], (
        "move these imports to module level, or add the reason to LAZY_IMPORTS"
    )
    assert LAZY_IMPORTS.keys() <= found, "LAZY_IMPORTS names an import that is gone"
