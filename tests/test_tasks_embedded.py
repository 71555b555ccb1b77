"""The embedded mode (no ABB_REDIS_URL, as in `make run`): the same tasks run in-process, in a background
thread, on the database of the code that enqueued them. The database here is a SQLite file with real
commits, since the background thread cannot see a test's rolled-back transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from abb.accounts.models import Role
from abb.companies import service as companies
from abb.core.config import get_settings
from abb.core.context import request_id_var
from abb.core.database import make_engine
from abb.core.migrate import upgrade
from abb.matching.models import Match
from abb.notifications.models import MatchNotification
from abb.tasks import NIGHTLY_RECOMPUTE, NOTIFY_NEW_MATCHES
from abb.tasks.dispatch import enqueue
from tests.factories import make_partner, make_sme, make_user
from tests.fixtures_redis import Mailbox, use_environment
from tests.waiting import wait_until


class TaskLogRecorder(logging.Handler):
    """Keeps each record's message with the request id in effect in the thread that logged it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.getMessage(), request_id_var.get()))

    def wait_for(self, prefix: str, timeout: float = 60.0) -> tuple[str, str | None]:
        return wait_until(
            lambda: next((line for line in list(self.lines) if line[0].startswith(prefix)), None),
            timeout=timeout,
            every=0.05,
            what=f"a log line starting with {prefix!r}",
            detail=lambda: self.lines,
        )


@pytest.fixture
def task_logs() -> Iterator[TaskLogRecorder]:
    recorder = TaskLogRecorder()
    loggers = [logging.getLogger(name) for name in ("abb.tasks", "abb.notifications")]
    for logger in loggers:
        logger.addHandler(recorder)
        logger.setLevel(logging.INFO)
    yield recorder
    for logger in loggers:
        logger.removeHandler(recorder)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'embedded.sqlite3'}"
    engine = make_engine(get_settings().model_copy(update={"database_url": url, "var_dir": tmp_path}))
    with engine.begin() as connection:
        upgrade(connection=connection)
    yield engine
    engine.dispose()


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[Mailbox, int]) -> Iterator[Mailbox]:
    """No broker (embedded mode); e-mail goes to the test SMTP server."""
    monkeypatch.delenv("ABB_REDIS_URL", raising=False)
    monkeypatch.delenv("ABB_CELERY_BROKER_URL", raising=False)
    mailbox, port = smtp_server
    use_environment(monkeypatch, ABB_SMTP_HOST="127.0.0.1", ABB_SMTP_PORT=str(port))
    yield mailbox


def test_a_profile_edit_recomputes_and_announces_matches_in_process(
    sqlite_database: Engine, embedded: Mailbox, task_logs: TaskLogRecorder
) -> None:
    with Session(sqlite_database, expire_on_commit=False) as session:
        owner = make_user(session, Role.SME, email="bologna@example.com")
        sme = make_sme(session, owner=owner, sectors=["textiles"], products="Looms")
        partner_owner = make_user(session, Role.PARTNER, email="nairobi@example.com")
        make_partner(session, owner=partner_owner)  # agri-food in Kenya: no fit for a textile SME yet
        token = request_id_var.set("req-embedded-1")
        try:
            companies.update_profile(
                session,
                kind=companies.SME,
                profile_id=sme.id,
                user=owner,
                changes={"sectors": ["agri_food"], "products": "Food processing machines for supermarket supply"},
            )
        finally:
            request_id_var.reset(token)

        messages = embedded.wait_for(2)
        assert sorted(m["To"] for m in messages) == ["bologna@example.com", "nairobi@example.com"]
        assert task_logs.wait_for("recomputed matches of sme") == (
            f"recomputed matches of sme profile {sme.id}: 1 new",
            "req-embedded-1",  # the request id travelled with the task into the background thread
        )
        # Each e-mail is recorded just after the SMTP server took it: wait for the task's end, not the mailbox.
        assert task_logs.wait_for("new-match e-mails sent")[0] == "new-match e-mails sent: 2"
        session.expire_all()
        (match,) = session.scalars(select(Match)).unique()
        assert match.sme_id == sme.id
        assert len(session.scalars(select(MatchNotification)).all()) == 2


def test_nightly_recompute_runs_in_process(
    sqlite_database: Engine, embedded: Mailbox, task_logs: TaskLogRecorder
) -> None:
    with Session(sqlite_database, expire_on_commit=False) as session:
        smes = [make_sme(session), make_sme(session)]
        make_partner(session)
        enqueue(session, NIGHTLY_RECOMPUTE)
        assert task_logs.wait_for("nightly match recompute")[0] == "nightly match recompute: 2 new matches"
        session.expire_all()
        assert sorted(m.sme_id for m in session.scalars(select(Match)).unique()) == sorted(s.id for s in smes)


def test_without_an_smtp_server_nothing_is_marked_as_announced(
    sqlite_database: Engine, embedded: Mailbox, task_logs: TaskLogRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_environment(monkeypatch, ABB_SMTP_HOST="")
    with Session(sqlite_database, expire_on_commit=False) as session:
        sme = make_sme(session)
        make_partner(session)
        enqueue(session, NIGHTLY_RECOMPUTE)
        task_logs.wait_for("nightly match recompute")
        match_ids = list(session.scalars(select(Match.id).where(Match.sme_id == sme.id)))
        assert len(match_ids) == 1
        enqueue(session, NOTIFY_NEW_MATCHES, match_ids)
        assert "2 new-match e-mails not sent" in task_logs.wait_for("no SMTP server configured")[0]
        assert embedded.received() == []
        session.rollback()  # end this session's read transaction, to see what the task committed
        assert session.scalars(select(MatchNotification)).all() == []


def test_a_refused_address_does_not_hold_back_the_other_recipients(
    sqlite_database: Engine, embedded: Mailbox, task_logs: TaskLogRecorder
) -> None:
    embedded.refuse("gone@example.com")
    with Session(sqlite_database, expire_on_commit=False) as session:
        sme = make_sme(session, owner=make_user(session, Role.SME, email="gone@example.com"))
        partner_owner = make_user(session, Role.PARTNER, email="here@example.com")
        make_partner(session, owner=partner_owner)
        enqueue(session, NIGHTLY_RECOMPUTE)
        task_logs.wait_for("nightly match recompute")
        match_ids = list(session.scalars(select(Match.id).where(Match.sme_id == sme.id)))
        enqueue(session, NOTIFY_NEW_MATCHES, match_ids)
        assert task_logs.wait_for("new-match e-mails sent")[0] == "new-match e-mails sent: 1"
        assert [m["To"] for m in embedded.received()] == ["here@example.com"]
        session.rollback()  # end this session's read transaction, to see what the task committed
        recorded = session.scalars(select(MatchNotification.user_id)).all()
        assert recorded == [partner_owner.id]  # the refused one is not marked as announced
