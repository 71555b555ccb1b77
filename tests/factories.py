"""Test data builders: users with a known password, profiles, signed-in API headers."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.companies.models import PartnerProfile, SmeProfile
from abb.core.config import Settings
from abb.core.database import Base
from abb.core.security import hash_password
from abb.models import load_all_models
from tests.harness.serve import CHEAP_PASSWORD_HASHING

load_all_models()

PASSWORD = "correct-horse-battery-staple"
# Made once at the suite's Argon2 cost (tests/harness/serve.py): verification reads the cost from the hash.
_PASSWORD_HASH = hash_password(PASSWORD, settings=Settings(**CHEAP_PASSWORD_HASHING))
_serial = itertools.count(1)
ACTIVITY_COLUMNS = {"last_seen_at"}
# The record of what was attempted, not stored data: a refused request adds its security events here.
AUDIT_TABLES = {"audit_log", "audit_head"}


def make_user(session: Session, role: Role = Role.SME, **fields: Any) -> User:
    n = next(_serial)
    user = User(
        email=fields.pop("email", f"{role.value}{n}@example.com"),
        password_hash=_PASSWORD_HASH,
        full_name=fields.pop("full_name", f"Test {role.value.title()} {n}"),
        role=role,
        **fields,
    )
    session.add(user)
    session.commit()
    return user


def sme_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    payload = {
        "company_name": f"Pastificio Test {n}",
        "vat_number": f"IT{n:011d}",
        "city": "Bologna",
        "sectors": ["agri_food"],
        "products": "Pasta production lines and food packaging machines",
        "target_countries": ["KE"],
        "company_size": "small",
        "languages": ["it", "en"],
        "export_experience": "occasional",
        "website": "https://pastificio.example.it",
    }
    payload.update(overrides)
    return payload


def partner_payload(**overrides: Any) -> dict[str, Any]:
    payload = {
        "organization_name": "Savanna Foods Kenya Ltd",
        "country": "KE",
        "city": "Nairobi",
        "sectors": ["agri_food"],
        "services": "Food processing and distribution, supermarket supply",
        "languages": ["en", "sw"],
        "years_active": 12,
        "company_size": "medium",
    }
    payload.update(overrides)
    return payload


def make_sme(session: Session, owner: User | None = None, **overrides: Any) -> SmeProfile:
    owner = owner or make_user(session, Role.SME)
    profile = SmeProfile(owner_id=owner.id, **sme_payload(**overrides))
    session.add(profile)
    session.commit()
    return profile


def make_partner(session: Session, owner: User | None = None, **overrides: Any) -> PartnerProfile:
    owner = owner or make_user(session, Role.PARTNER)
    profile = PartnerProfile(owner_id=owner.id, **partner_payload(**overrides))
    session.add(profile)
    session.commit()
    return profile


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def auth(client: TestClient, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client, user.email)['access_token']}"}


def db_snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: compared before and after a refused request to show nothing changed.

    `last_seen_at` is left out: a refused but authenticated request is still activity by that user; so is the
    audit log, which records the refused attempt.
    """
    session.expire_all()
    snapshot = {}
    for table in Base.metadata.sorted_tables:
        if table.name in AUDIT_TABLES:
            continue
        columns = [c for c in table.columns if c.name not in ACTIVITY_COLUMNS]
        rows = session.execute(select(*columns).order_by(*table.primary_key.columns)).all()
        snapshot[table.name] = [tuple(row) for row in rows]
    return snapshot


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://africabusinessbridge.example/problems/")
    if slug:
        assert body["type"].endswith("/" + slug), body
    return body
