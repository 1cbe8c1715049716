"""Each facade module's ``__all__`` lists what other modules import from it, and no module reaches into
another's private names (as httpx keeps its private modules: a short public surface each)."""

from __future__ import annotations

import ast
from pathlib import Path

FACADE = Path(__file__).resolve().parent.parent / "facade"
PACKAGE = FACADE / "kie_gpt_image"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(FACADE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _exports(module: str) -> set[str] | None:
    for node in ast.parse(MODULES[module].read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            assert isinstance(node.value, (ast.List, ast.Tuple))
            return {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
    return None


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]


def _relative_imports() -> list[tuple[str, str, str, int]]:
    """(importing module, imported module, name, line) for every ``from .x import name``."""
    found = []
    for module, path in sorted(MODULES.items()):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = _package_of(module).split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                if target in MODULES and f"{target}.{alias.name}" not in MODULES:
                    found.append((module, target, alias.name, node.lineno))
    return found


def test_every_name_imported_from_a_module_is_in_its_all() -> None:
    problems = [
        f"{module}:{line} imports {name} from {target}, which does not export it"
        for module, target, name, line in _relative_imports()
        if name not in (_exports(target) or set())
    ]
    assert problems == []


def test_no_module_reaches_into_another_modules_private_names() -> None:
    problems = []
    for module, path in sorted(MODULES.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported_modules = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level
            for alias in node.names
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported_modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                problems.append(f"{module}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert problems == []


def test_the_check_sees_the_imports_it_judges() -> None:
    # Guard against a vacuous pass: the facade has many relative imports, including from _inputs.
    imports = _relative_imports()
    assert len(imports) > 50
    assert any(target == "kie_gpt_image._inputs" for _, target, _, _ in imports)
