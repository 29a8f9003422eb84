"""The package's layout: imports go one way between the areas, and no module imports itself
back through others. Walked with ast over every module, imports inside functions included."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import feedpub

PACKAGE = Path(feedpub.__file__).parent
BASICS = "basics"
# What each area may import besides itself. The entry points (cli, run, scaffold, web,
# __main__, preview) may import anything and nothing may import them.
ALLOWED = {
    BASICS: {BASICS},
    "templating": {BASICS},
    "store": {BASICS},
    "content": {BASICS, "store"},
    "newsletter": {BASICS, "templating", "content", "store"},
    "delivery": {BASICS, "templating", "content", "store"},
    "site": {BASICS, "templating", "content", "store", "site.archive"},
    "site.archive": {BASICS, "templating", "content", "store", "site", "newsletter"},
}
ENTRY_POINTS = {"feedpub.cli", "feedpub.run", "feedpub.scaffold", "feedpub.web", "feedpub.__main__"}
# The live preview builds the site and renders the next issue, as run does.
ENTRY_POINTS |= {"feedpub.preview"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def area(name: str) -> str:
    parts = name.split(".")
    if name == "feedpub.site.archive":
        return "site.archive"
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    if name == "feedpub.templating":
        return "templating"
    return BASICS


def imports(name: str, path: Path) -> Iterator[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for each import of feedpub's own modules."""
    tree = ast.parse(path.read_text(), str(path))
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("feedpub"):
                        yield alias.name, child.lineno, inside
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*up, base] if base else up)
                if not base.startswith("feedpub"):
                    continue
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    yield (full if full in known else base), child.lineno, inside
            yield from visit(child, inside)

    yield from visit(tree, False)


def test_the_areas_import_only_what_they_may() -> None:
    wrong = []
    for name, path in modules().items():
        if name in ENTRY_POINTS or name == "feedpub":
            continue
        for imported, line, _ in imports(name, path):
            if imported == "feedpub":
                continue
            if imported in ENTRY_POINTS:
                wrong.append(f"{name}:{line} imports the entry point {imported}")
                continue
            mine, theirs = area(name), area(imported)
            if theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{name}:{line} ({mine}) imports {imported} ({theirs})")
    assert wrong == []


def test_no_module_imports_itself_back_through_others() -> None:
    graph = {name: {i for i, _, _ in imports(name, path)} for name, path in modules().items()}
    cycles = []
    done: set[str] = set()

    def walk(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append(" -> ".join([*trail[trail.index(name):], name]))
            return
        if name in done:
            return
        for imported in sorted(graph.get(name, ())):
            walk(imported, [*trail, name])
        done.add(name)

    for name in graph:
        walk(name, [])
    assert cycles == []




def test_imports_inside_functions_are_only_for_heavy_libraries() -> None:
    """feedpub's own modules are imported at the top; an import inside a function is kept for
    heavy third-party libraries only (feedgen, Jinja2, premailer), off the no-change path."""
    inside = [
        f"{name}:{line} imports {imported} inside a function"
        for name, path in modules().items()
        if name not in ENTRY_POINTS
        for imported, line, in_function in imports(name, path)
        if in_function
    ]
    assert inside == []


@pytest.mark.parametrize("name", sorted(n for n in modules() if modules()[n].name == "__init__.py"))
def test_every_sub_package_says_what_it_owns_and_may_import(name: str) -> None:
    docstring = ast.get_docstring(ast.parse(modules()[name].read_text())) or ""
    assert name == "feedpub" or "import" in docstring, name
