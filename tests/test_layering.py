"""The layers point one way (docs/architecture.md, "Layers"), and page and API handlers never block the loop."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from abb.app import create_app
from tests.conftest import make_settings
from tests.layering import import_graph, violations

# The imports issue 13 found, each as it would be written today, with the rule it must break.
BAD_IMPORTS: dict[str, tuple[dict[str, set[str]], str]] = {
    "a domain's pages importing the web layer": (
        {"abb.deals.pages": {"abb.web.kit"}},
        "domains never import the web layer",
    ),
    "observability importing a domain's enums": (
        {"abb.observability.business": {"abb.deals.models"}},
        "observability imports no domain",
    ),
    "observability querying a domain's table": (
        {"abb.observability.collectors": {"abb.accounts.models"}},
        "observability imports no domain",
    ),
    "domain tasks kept in tasks/": (
        {"abb.tasks.matching": {"abb.matching.service"}},
        "keeps only the Celery app",
    ),
    "a router triggering a post-commit effect": (
        {"abb.matching.router": {"abb.matching.tasks"}},
        "leave background work to the services",
    ),
    "a page enqueueing work": (
        {"abb.web.matching": {"abb.tasks.dispatch"}},
        "leave background work to the services",
    ),
    "a deal service and its tasks importing each other": (
        {"abb.deals.service": {"abb.deals.tasks"}, "abb.deals.tasks": {"abb.deals.service"}},
        "import cycle inside a domain: abb.deals.payments <-> abb.deals.service <-> abb.deals.tasks",
    ),
    "a provider interface and its adapters importing each other": (
        {
            "abb.deals.providers.base": {"abb.deals.providers.bank_transfer"},
            "abb.deals.providers.bank_transfer": {"abb.deals.providers.base"},
        },
        "import cycle inside a domain",
    ),
    "payments as a package of its own": (
        {"abb.payments.webhooks": {"abb.deals.service"}},
        "the package payments has no place in the layers",
    ),
    "core importing a domain for settings": (
        {"abb.core.http": {"abb.accounts.deps"}},
        "core imports nothing of ours",
    ),
    "pages reaching into a domain's router": (
        {"abb.web.companies": {"abb.companies.router"}},
        "pages use a domain through its public modules",
    ),
    "a domain reaching into another's internals": (
        {"abb.deals.service": {"abb.matching.engine"}},
        "through its public modules",
    ),
    "two domains importing each other": (
        {"abb.companies.service": {"abb.matching.service"}, "abb.matching.service": {"abb.companies.service"}},
        "import cycle between packages: companies <-> matching",
    ),
}

# Handlers that may be `async def`, and why each never blocks the event loop.
ASYNC_HANDLERS = {
    "abb.accounts.router.me": "returns the user its dependency loaded (in the thread pool); no I/O of its own",
    "abb.observability.health.live": "answers a constant",
    "abb.observability.health.ready": "runs its checks on threads of its own (run_beside_requests) and awaits them",
    "abb.observability.metrics.metrics_router.<locals>.metrics": "renders on threads of its own and awaits the page",
    # fastapi-offline's /docs and /redoc pages (and Swagger's OAuth redirect): fixed HTML built in memory.
    "fastapi_offline.core.FastAPIOffline.<locals>.custom_swagger_ui_html": "returns a fixed HTML page, no I/O",
    "fastapi_offline.core.FastAPIOffline.<locals>.swagger_ui_redirect": "returns a fixed HTML page, no I/O",
    "fastapi_offline.core.FastAPIOffline.<locals>.redoc_html": "returns a fixed HTML page, no I/O",
    "abb.app._favicon": "hands a static file to FileResponse, which streams it without blocking",
}


def test_the_source_keeps_the_layering_rules() -> None:
    graph = import_graph()
    assert "abb.deals.service" in graph and "abb.web.kit" in graph, "the checker found the source"
    assert violations(graph) == []


@pytest.mark.parametrize(("bad_graph", "rule"), BAD_IMPORTS.values(), ids=BAD_IMPORTS.keys())
def test_the_checker_refuses_the_imports_the_issue_named(bad_graph: dict[str, set[str]], rule: str) -> None:
    graph = {module: set(imported) for module, imported in import_graph().items()}
    for module, imported in bad_graph.items():
        graph.setdefault(module, set()).update(imported)
    found = violations(graph)
    assert any(rule in line for line in found), found


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI keeps an included router as one route
            yield from _api_routes(route.original_router.routes)


def test_page_and_api_handlers_are_plain_def_unless_allowed() -> None:
    app = create_app(make_settings())
    handlers = {f"{r.endpoint.__module__}.{r.endpoint.__qualname__}": r.endpoint for r in _api_routes(app.routes)}
    assert "abb.web.accounts.login_submit" in handlers and "abb.deals.router.create_deal" in handlers
    asynchronous = {name for name, endpoint in handlers.items() if inspect.iscoroutinefunction(endpoint)}
    assert asynchronous == set(ASYNC_HANDLERS), "an async handler runs on the event loop: make it def or justify it"
