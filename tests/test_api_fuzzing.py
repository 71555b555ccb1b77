"""API fuzzing with schemathesis against the service's own OpenAPI document, on PostgreSQL (where a NUL in text
once gave a 500 that SQLite never showed), anonymously and as each role.

The app is served over real HTTP (uvicorn, in this process) on a PostgreSQL database of its own; the schemathesis
command runs its fuzzing phase (valid and invalid data for every operation) and its stateful phase (the links it
infers from the schema: create -> read -> update) once per role. Every response must come without a 5xx, with a
status code and content type the operation documents, and a body matching the documented schema. Bounded by the
number of examples per operation (4: the four runs take about two minutes of one worker in `make test`).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from abb.accounts import service as accounts
from abb.accounts.models import Role, User
from tests.conftest import _migrated_engine, make_settings
from tests.factories import make_partner, make_sme, make_user
from tests.fixtures_observability import LiveServer, app_on
from tests.harness.services import PostgresServer, untraced_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
EXAMPLES_PER_OPERATION = 4
SCHEMA_BUILD_TIMEOUT = 300  # seconds: far above the few it takes; reaching it is a hang
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


@pytest.fixture(scope="module")
def fuzz_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    engine = _migrated_engine(postgres_server.create_database(f"abb_fuzz_{uuid.uuid4().hex[:8]}"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def fuzz_server(fuzz_engine: Engine) -> Iterator[LiveServer]:
    # Every request comes from 127.0.0.1, four roles' runs within a minute or two: the per-address limits
    # would answer 429 (even to the schema's own download) once the operations outgrow them. Fuzzing checks
    # conformance; the limiters have their own tests (test_security_bruteforce.py, test_security_http.py).
    unlimited = "100000/minute"
    settings = make_settings(rate_limit_ip=unlimited, rate_limit_user=unlimited, rate_limit_auth_ip=unlimited)
    with LiveServer(app_on(fuzz_engine, settings)) as server:
        # The app builds its OpenAPI document on the first request for it and keeps it. Built here, with time to
        # spare: schemathesis downloads the schema with a fixed 10 s timeout, which a busy CI machine running this
        # under coverage exceeded (the first role failed without a report).
        httpx.get(f"{server.url}/openapi.json", timeout=SCHEMA_BUILD_TIMEOUT).raise_for_status()
        yield server


@pytest.fixture(scope="module")
def fuzz_users(fuzz_engine: Engine) -> dict[Role, int]:
    """One user per role, the SME and the partner with profiles, so that role-only operations get past 403."""
    with Session(fuzz_engine, expire_on_commit=False) as session:
        users = {role: make_user(session, role) for role in (Role.SME, Role.PARTNER, Role.ADMIN)}
        make_sme(session, owner=users[Role.SME])
        make_partner(session, owner=users[Role.PARTNER])
        return {role: user.id for role, user in users.items()}


def bearer(engine: Engine, user_id: int) -> str:
    """A fresh access token; the user enabled again (an earlier run may have disabled it: fuzzing working)."""
    with Session(engine, expire_on_commit=False) as session:
        session.execute(update(User).where(User.id == user_id).values(is_active=True))
        session.commit()
        user = session.get(User, user_id)
        assert user is not None
        return accounts.issue_tokens(session, user=user, settings=make_settings()).access_token


@pytest.mark.parametrize("role", ["anonymous", Role.SME, Role.PARTNER, Role.ADMIN], ids=str)
def test_every_operation_answers_as_documented(
    role: Role | str, fuzz_server: LiveServer, fuzz_engine: Engine, fuzz_users: dict[Role, int], tmp_path: Path
) -> None:
    headers = [] if role == "anonymous" else ["-H", f"Authorization: Bearer {bearer(fuzz_engine, fuzz_users[role])}"]
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{fuzz_server.url}/openapi.json",
            *headers,
            "--phases=examples,fuzzing,stateful",
            f"--max-examples={EXAMPLES_PER_OPERATION}",
            "--seed=2026",  # the same cases every run: a finding reproduces, a green run stays green
            f"--checks={CHECKS}",
            "--workers=2",
            "--suppress-health-check=all",
            "--request-timeout=30",
            "--output-truncate=true",
            "--report=junit",
            f"--report-dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=untraced_env(),
    )
    assert run.returncode == 0, f"schemathesis found problems as {role}:\n{run.stdout[-20000:]}\n{run.stderr[-2000:]}"
    print(run.stdout[-6000:])  # the run summary, shown with -s or on failure


def test_the_openapi_links_point_at_operations_that_take_the_linked_parameter() -> None:
    from abb.app import create_app

    document = create_app(make_settings()).openapi()
    links = [
        (path, link)
        for path, item in document["paths"].items()
        for operation in item.values()
        for answer in operation["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    assert len(links) >= 10, "create -> read -> update links for courses, enrollments, deals and documents"
    for source, link in links:
        ref_path, method = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)
        target = document["paths"][ref_path.replace("~1", "/").replace("~0", "~")][method]
        names = {parameter["name"] for parameter in target.get("parameters", [])}
        assert set(link["parameters"]) <= names, (source, link)
