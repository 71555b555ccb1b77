"""The layering rules of docs/architecture.md, checked on the import statements of src/abb (read with `ast`).

Every import counts: at module level, inside functions (a lazy import hides a cycle, it does not remove it)
and under TYPE_CHECKING. `violations(graph)` takes any module -> imports graph, so a test can feed it bad
imports and see each rule fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "abb"

CORE = "core"
DOMAINS = frozenset(
    {
        "accounts",
        "companies",
        "matching",
        "deals",
        "training",
        "uploads",
        "notifications",
        "security",
        "privacy",
        "console",
    }
)
# What a domain offers the others (and the web pages): its models, request/response schemas, service and
# HTTP dependencies; a few domains also share value modules every user of them needs. Anything else of a
# domain (engine, providers, tasks, router, storage, …) is its own business.
PUBLIC_MODULES = frozenset({"models", "schemas", "service", "deps"})
EXTRA_PUBLIC_MODULES = {
    "companies": frozenset({"taxonomy"}),  # sectors, countries, languages: the vocabulary of profiles
    "deals": frozenset({"money", "payments"}),  # currencies and minor units; the paying half of the service
    "notifications": frozenset({"email"}),  # composing and sending e-mail
    # raising security events, the sign-in guard and the security counters: every domain's business
    "security": frozenset({"events", "audit", "bruteforce", "metrics", "access"}),
    "uploads": frozenset({"storage"}),  # where files live: erasure and retention delete them
}
# Infrastructure below the domains: it may import core (and the root package's version), never a domain.
INFRASTRUCTURE = frozenset({"observability", "tasks"})
# tasks/ holds the Celery app, dispatch and the runtime; the tasks themselves live beside their domain.
TASKS_PACKAGE_MODULES = frozenset({"abb.tasks", "abb.tasks.celery_app", "abb.tasks.dispatch", "abb.tasks.runtime"})
WEB = "web"
# Composition at the top: may import anything, imported by nothing below it.
COMPOSITION = frozenset({"app", "cli", "__main__", "models", "demo", "ops", "migrations"})


def package_of(module: str) -> str:
    """'abb.deals.service' -> 'deals'; the root package itself -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The module an import names (`from abb.x import y` may name the submodule abb.x.y)."""
    return name if name in modules else None


def imports_of(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target != ROOT and not target.startswith(ROOT + "."):
                continue
            for alias in node.names:
                submodule = _resolve(f"{target}.{alias.name}", modules)
                found.add(submodule or target)
    found.discard(module)
    return found


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    files = {_module_name(path): path for path in (src / ROOT).rglob("*.py")}
    modules = set(files)
    return {
        module: imports_of(ast.parse(path.read_text("utf-8")), module, path.name == "__init__.py", modules)
        for module, path in files.items()
    }


def _is_public(module: str) -> bool:
    name = module.split(".")[2] if module.count(".") >= 2 else ""
    return name in PUBLIC_MODULES | EXTRA_PUBLIC_MODULES.get(package_of(module), frozenset())


def _is_http_layer(module: str) -> bool:
    return package_of(module) == WEB or module.split(".")[-1] == "router"


def _rule(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None when it may."""
    source, target = package_of(importer), package_of(imported)
    for package in (source, target):
        if package and package not in DOMAINS | INFRASTRUCTURE | COMPOSITION | {CORE, WEB}:
            return f"the package {package} has no place in the layers"
    if _is_http_layer(importer) and (package_of(imported) == "tasks" or imported.endswith(".tasks")):
        return "routers and pages leave background work to the services (they enqueue after their commit)"
    if source == target or target == "":
        return None
    if target in COMPOSITION and source not in COMPOSITION:
        return f"nothing below the composition layer imports it ({target})"
    if source == CORE:
        return "core imports nothing of ours"
    if source in INFRASTRUCTURE:
        if target in DOMAINS or target == WEB:
            return f"{source} imports no domain and not the web layer (the app hands it what it needs)"
        return None
    if source in DOMAINS:
        if target == WEB:
            return "domains never import the web layer"
        if target in DOMAINS and not _is_public(imported):
            return f"a domain uses another domain through its public modules, not {imported}"
        return None
    if source == WEB:
        if target not in DOMAINS | INFRASTRUCTURE | {CORE}:
            return f"the web layer does not import {target}"
        if target in DOMAINS and not _is_public(imported):
            return f"pages use a domain through its public modules, not {imported}"
    return None


def _cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one node (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Every broken rule: forbidden imports, cycles between packages, cycles between a domain's modules."""
    found = [
        f"{module} is in tasks/, which keeps only the Celery app, dispatch and the runtime"
        for module in sorted(graph)
        if package_of(module) == "tasks" and module not in TASKS_PACKAGE_MODULES
    ]
    found += [
        f"{importer} imports {imported}: {reason}"
        for importer, imported_modules in sorted(graph.items())
        for imported in sorted(imported_modules)
        if (reason := _rule(importer, imported)) is not None
    ]
    packages: dict[str, set[str]] = {}
    for importer, imported_modules in graph.items():
        source = package_of(importer)
        for imported in imported_modules:
            target = package_of(imported)
            if source and target and source != target:
                packages.setdefault(source, set()).add(target)
    found += [f"import cycle between packages: {' <-> '.join(group)}" for group in _cycles(packages)]
    within_domains = {
        importer: {m for m in imported_modules if package_of(m) == package_of(importer)}
        for importer, imported_modules in graph.items()
        if package_of(importer) in DOMAINS
    }
    found += [f"import cycle inside a domain: {' <-> '.join(group)}" for group in _cycles(within_domains)]
    return found
