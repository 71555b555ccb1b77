"""Engine, sessions and the declarative base.

Access is synchronous (SQLAlchemy 2.0 + psycopg 3): the same session code serves the API, the
CLI and Celery workers; docs/architecture.md explains why this meets the throughput goals.
"""

from __future__ import annotations

import enum
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Enum, MetaData, Select, TypeDecorator, create_engine, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from abb.core.config import Settings

log = logging.getLogger("abb.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def string_enum(cls: type[enum.Enum], *, length: int = 16) -> Enum:
    """An enum column stored as its values' text (no database enum type), the same on every backend."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain postgresql:// URLs (multi-host URLs keep working)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(settings: Settings) -> Engine:
    url = normalize_url(settings.resolved_database_url)
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            settings.var_dir.mkdir(parents=True, exist_ok=True)
        # Every connection opened is kept (up to pool size + overflow): a file connection costs the server
        # nothing, and with SQLAlchemy's default bounds (5 + 10 overflow) a busy moment would open and close
        # one, PRAGMAs included, for every request beyond the fifth.
        engine = create_engine(
            url,
            pool_size=settings.database_pool_size + settings.database_max_overflow,
            max_overflow=0,
            pool_timeout=settings.database_pool_timeout,
            connect_args={"check_same_thread": False, "timeout": 15},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, open transactions, so SAVEPOINTs work (SQLAlchemy docs recipe).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        # A lost connection (failover, restart) is replaced on checkout instead of failing a request.
        pool_pre_ping=True,
        connect_args={"connect_timeout": settings.database_connect_timeout},
    )


class Database:
    """The process's engine and session factory, created once at start-up."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)

    def open_first_connection(self) -> None:
        """Connect once before serving: SQLAlchemy runs its first-connect hooks on the first connection, and
        when the first requests arrive together, threads connecting at the same moment can trip over them
        ("deque mutated during iteration", seen under load with tracing on). A database that is down now is
        not fatal: /health/ready reports it and the pool connects when it is back."""
        try:
            with self.engine.connect():
                pass
        except OperationalError as exc:
            log.warning("database not reachable at start-up", extra={"error.message": str(exc.orig)})

    def dispose(self) -> None:
        self.engine.dispose()


def fetch_page(session: Session, query: Select[Any], *order_by: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of a list query and the total it pages through (every list endpoint answers both)."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    # unique(): queries with joined eager loads return one row per related row.
    items = list(session.scalars(query.order_by(*order_by).limit(limit).offset(offset)).unique())
    return items, total
