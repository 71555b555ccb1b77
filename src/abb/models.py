"""Import every domain's models so that metadata (Alembic, tests) sees all tables."""

from __future__ import annotations

import importlib

DOMAIN_MODEL_MODULES = (
    "abb.accounts.models",
    "abb.companies.models",
    "abb.matching.models",
    "abb.training.models",
    "abb.uploads.models",
    "abb.core.idempotency",
    "abb.deals.models",
    "abb.notifications.models",
    "abb.security.models",
    "abb.privacy.models",
)


def load_all_models() -> None:
    for module in DOMAIN_MODEL_MODULES:
        importlib.import_module(module)
