"""Real Celery workers (`abb worker` subprocesses) against a real Redis, a real PostgreSQL and a real SMTP server.

The workers read a database of their own whose commits are real: they cannot see a test's rolled-back
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil
import pytest
import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from abb.accounts.models import Role
from abb.cli import app as cli
from abb.core.config import get_settings
from abb.core.context import request_id_var
from abb.matching import service as matching
from abb.matching.models import Match
from abb.notifications.models import MatchNotification
from abb.tasks import NOTIFY_NEW_MATCHES, RECOMPUTE_PROFILE_MATCHES
from abb.tasks.dispatch import enqueue
from tests.factories import make_partner, make_sme, make_user
from tests.fixtures_redis import CeleryWorker, Mailbox, use_environment
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

# Seconds before Redis hands an unacknowledged task to another worker, in the test that waits for it (the
# default is 120). The task's hard time limit must stay below it (settings require it), yet far above how long
# a task takes to reach the mail server on a busy machine: a limit that fires first kills the pool process and
# fails the task for good (beside a CPU hog a 4 s limit fired before the test could kill the worker).
REDELIVERY_VISIBILITY_TIMEOUT = 20


def _worker_env(
    database_url: str, redis_url: str, smtp_port: int, *, visibility_timeout: int | None = None
) -> dict[str, str]:
    """A worker's settings; the visibility timeout and task time limits stay the production defaults unless
    `visibility_timeout` is given."""
    env = {
        "ABB_DATABASE_URL": database_url,
        "ABB_REDIS_URL": redis_url,
        "ABB_SMTP_HOST": "127.0.0.1",
        "ABB_SMTP_PORT": str(smtp_port),
        "ABB_PUBLIC_BASE_URL": "https://abb.example",
    }
    if visibility_timeout is not None:
        env["ABB_CELERY_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
        env["ABB_TASK_TIME_LIMIT_SECONDS"] = str(visibility_timeout - 2)
        env["ABB_TASK_SOFT_TIME_LIMIT_SECONDS"] = str(visibility_timeout - 3)
    return env


def _seed(session: Session) -> tuple[int, list[int]]:
    """One SME and three partners, two of which fit it (same sector, its target country)."""
    sme = make_sme(session, owner=make_user(session, Role.SME, email="sme-owner@example.com"))
    fitting = [
        make_partner(session, owner=make_user(session, Role.PARTNER, email=f"partner{n}@example.com")) for n in range(2)
    ]
    make_partner(
        session,
        organization_name="Addis Textile Mills",
        country="ET",
        city="Addis Ababa",
        sectors=["textiles"],
        services="Cotton spinning and garment export",
        languages=["am"],
    )
    return sme.id, [p.id for p in fitting]


def _count(session: Session, model: type[Match] | type[MatchNotification]) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_abb_worker_has_help_and_refuses_to_start_without_a_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["worker", "--help"])
    assert shown.exit_code == 0, shown.output
    assert "--beat" in shown.output and "--concurrency" in shown.output
    monkeypatch.delenv("ABB_REDIS_URL", raising=False)
    use_environment(monkeypatch, ABB_CELERY_BROKER_URL="")
    refused = runner.invoke(cli, ["worker"])
    assert refused.exit_code == 2
    assert "ABB_REDIS_URL" in refused.output


@pytest.mark.postgres
def test_profile_recompute_end_to_end_on_a_worker(
    committed_database: tuple[str, Engine],
    committed_session: Session,
    redis_env: redis.Redis,
    smtp_server: tuple[Mailbox, int],
    start_worker: Callable[..., CeleryWorker],
) -> None:
    mailbox, smtp_port = smtp_server
    sme_id, fitting_partner_ids = _seed(committed_session)
    worker = start_worker(_worker_env(committed_database[0], get_settings().redis_url, smtp_port))

    token = request_id_var.set("req-e2e-1")
    try:
        enqueue(committed_session, RECOMPUTE_PROFILE_MATCHES, "sme", sme_id)
    finally:
        request_id_var.reset(token)

    # The SME and each fitting partner get one e-mail each.
    messages = mailbox.wait_for(3)
    matches = list(committed_session.scalars(select(Match).where(Match.sme_id == sme_id)).unique())
    assert sorted(m.partner_id for m in matches) == sorted(fitting_partner_ids)
    by_recipient = {m["To"]: m for m in messages}
    assert set(by_recipient) == {"sme-owner@example.com", "partner0@example.com", "partner1@example.com"}
    sme_mail = by_recipient["sme-owner@example.com"]
    assert sme_mail["Subject"] == "2 new matches on Africa Business Bridge"
    body = sme_mail.get_content()
    for match in matches:
        assert f"https://abb.example/matches/{match.id}" in body
        assert match.sme_explanation in body
    assert _count(committed_session, MatchNotification) == 4  # 2 matches x 2 parties
    worker.wait_for_log("succeeded", count=2)  # recompute, then notify
    # The task's log lines carry the id of the request that enqueued it.
    recompute_lines = [line for line in worker.json_lines() if line["message"].startswith("recomputed matches")]
    assert [line.get("http.request.id") for line in recompute_lines] == ["req-e2e-1"]

    # Running the same work again is harmless: nothing new is stored or sent.
    enqueue(committed_session, RECOMPUTE_PROFILE_MATCHES, "sme", sme_id)
    enqueue(committed_session, NOTIFY_NEW_MATCHES, [m.id for m in matches])
    worker.wait_for_log("succeeded", count=4)
    assert len(mailbox.received()) == 3
    assert _count(committed_session, Match) == 2
    assert _count(committed_session, MatchNotification) == 4


@pytest.mark.postgres
def test_a_task_survives_its_worker_being_killed(
    committed_database: tuple[str, Engine],
    committed_session: Session,
    redis_env: redis.Redis,
    smtp_server: tuple[Mailbox, int],
    start_worker: Callable[..., CeleryWorker],
) -> None:
    mailbox, smtp_port = smtp_server
    sme_id, _ = _seed(committed_session)
    match_ids = matching.recompute_for_profile(
        committed_session, role=Role.SME, profile_id=sme_id, settings=get_settings()
    )
    assert len(match_ids) == 2
    env = _worker_env(
        committed_database[0], get_settings().redis_url, smtp_port, visibility_timeout=REDELIVERY_VISIBILITY_TIMEOUT
    )
    first = start_worker(env, pool="prefork")  # the production pool: the task runs in a child process

    mailbox.hold_next()  # the mail server sits on the first message: the task is mid-run
    enqueue(committed_session, NOTIFY_NEW_MATCHES, match_ids)
    assert mailbox.held.wait(timeout=30), "the worker never started sending"
    delivered_at = time.monotonic()
    first.kill()
    assert mailbox.received() == []
    assert _count(committed_session, MatchNotification) == 0
    assert redis_env.hlen("unacked") == 1  # the message is still Redis's, not lost with the worker

    # A new worker takes the unacknowledged message once the visibility timeout has passed.
    time.sleep(max(0.0, REDELIVERY_VISIBILITY_TIMEOUT + 0.5 - (time.monotonic() - delivered_at)))
    second = start_worker(env, pool="prefork")
    messages = mailbox.wait_for(3)
    second.wait_for_log("succeeded", count=1)
    assert sorted(m["To"] for m in messages) == [
        "partner0@example.com",
        "partner1@example.com",
        "sme-owner@example.com",
    ]
    assert _count(committed_session, MatchNotification) == 4
    assert second.log().count("succeeded") == 1
    wait_until(lambda: redis_env.hlen("unacked") == 0, timeout=60, what="the redelivered task being acknowledged")
    assert len(mailbox.received()) == 3  # exactly once


@pytest.mark.postgres
def test_a_task_survives_its_pool_process_being_killed(
    committed_database: tuple[str, Engine],
    committed_session: Session,
    redis_env: redis.Redis,
    smtp_server: tuple[Mailbox, int],
    start_worker: Callable[..., CeleryWorker],
) -> None:
    """An out-of-memory kill takes the pool process, not the worker: the worker puts the task back at once."""
    mailbox, smtp_port = smtp_server
    sme_id, _ = _seed(committed_session)
    match_ids = matching.recompute_for_profile(
        committed_session, role=Role.SME, profile_id=sme_id, settings=get_settings()
    )
    worker = start_worker(_worker_env(committed_database[0], get_settings().redis_url, smtp_port), pool="prefork")

    mailbox.hold_next()
    enqueue(committed_session, NOTIFY_NEW_MATCHES, match_ids)
    assert mailbox.held.wait(timeout=30), "the worker never started sending"
    (pool_process,) = psutil.Process(worker.process.pid).children()
    pool_process.kill()

    # Well within the default visibility timeout (120 s): the task comes back by the worker's own requeue.
    messages = mailbox.wait_for(3)
    worker.wait_for_log("succeeded", count=1)
    assert "WorkerLostError" in worker.log()
    assert sorted(m["To"] for m in messages) == [
        "partner0@example.com",
        "partner1@example.com",
        "sme-owner@example.com",
    ]
    assert _count(committed_session, MatchNotification) == 4
    assert worker.log().count("succeeded") == 1
