"""The migration chain upgrades a database that holds data, one revision at a time, on SQLite and PostgreSQL,
and keeps to the rule that lets migrations run before the traffic shift (docs/infrastructure.md, "Migrations"):
an upgrade only adds (expand); dropping or renaming (contract) waits for a later release and says so."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import abb.models
from abb.core.database import Base
from abb.core.migrate import alembic_config, upgrade
from tests.harness.services import PostgresServer

pytestmark = pytest.mark.slow

ROWS_PER_TABLE = 3
VERSIONS = Path(abb.__file__).parent / "migrations" / "versions"  # type: ignore[attr-defined]
CONTRACT = re.compile(r"\bop\.(drop_table|drop_column|rename_table)\b|batch_op\.drop_column|new_column_name=")


def revision_chain() -> list[str]:
    """Every revision, each after those it revises or depends on (the tree may have several heads)."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _allowed_values(inspector: sa.Inspector, table: str) -> dict[str, str]:
    """A value each enum column accepts: from the models' Enum types (stored as strings, not always with a
    CHECK constraint), else the first literal a CHECK constraint on the column lists."""
    model = Base.metadata.tables.get(table)
    allowed: dict[str, str] = {
        column.name: column.type.enums[0]
        for column in (model.columns if model is not None else [])
        if isinstance(column.type, sa.Enum) and column.type.enums
    }
    for check in inspector.get_check_constraints(table):
        text = check["sqltext"]
        literals = re.findall(r"'([^']*)'", text)
        for column in re.findall(r"\b(\w+)\b", text):
            if literals and column not in allowed:
                allowed[column] = literals[0]
    return allowed


def _value(column: sa.Column[Any], row: int, table: str, allowed: dict[str, str]) -> Any:
    kind = column.type
    if column.name in allowed:
        return allowed[column.name]
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return row + 1
    if isinstance(kind, sa.Numeric | sa.Float):
        return 1
    if isinstance(kind, sa.DateTime):  # an end comes after its start (ck_courses_ends_after_start)
        return dt.datetime(2026, 1, 1, 12, row, tzinfo=dt.UTC) + dt.timedelta(days="end" in column.name)
    if isinstance(kind, sa.Date):
        return dt.date(2026, 1, 1 + row)
    if isinstance(kind, sa.JSON):
        return {}
    if isinstance(kind, sa.LargeBinary):
        return b"x"
    if isinstance(kind, sa.Uuid):
        return uuid.uuid4()
    if isinstance(kind, sa.String):
        text = f"{row}{column.name[:6]}{uuid.uuid4().hex[:8]}@x.example" if "email" in column.name else f"{row}-{table}"
        return text[: kind.length] if kind.length else text
    return f"{row}"


def populate(engine: Engine) -> dict[str, int]:
    """Fill every empty table with rows that satisfy NOT NULL, foreign keys and enum checks; return row counts."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version" or conn.scalar(sa.select(sa.func.count()).select_from(table)):
                continue
            allowed = _allowed_values(inspector, table.name)
            for row in range(ROWS_PER_TABLE):
                values: dict[str, Any] = {}
                for column in table.columns:
                    foreign = next(iter(column.foreign_keys), None)
                    if foreign is not None:
                        parent = foreign.column
                        values[column.name] = conn.scalar(
                            sa.select(parent).order_by(parent).offset(row % ROWS_PER_TABLE).limit(1)
                        )
                    elif column.primary_key and isinstance(column.type, sa.Integer):
                        continue
                    elif not column.nullable and column.server_default is None:
                        values[column.name] = _value(column, row, table.name, allowed)
                conn.execute(table.insert().values(values))
        return {
            table.name: conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for table in metadata.sorted_tables
            if table.name != "alembic_version"
        }


def upgrade_step_by_step(engine: Engine) -> dict[str, int]:
    counts: dict[str, int] = {}
    for revision in revision_chain():
        with engine.begin() as conn:
            upgrade(connection=conn, revision=revision)
        after = populate(engine)
        for table, count in counts.items():
            assert after.get(table) == count, f"{revision} changed the rows of {table}: {count} -> {after.get(table)}"
        counts = after
    return counts


def assert_models_read_every_row(engine: Engine, counts: dict[str, int]) -> None:
    """The application's models load what was written at every earlier revision."""
    with Session(engine) as session:
        for mapper in Base.registry.mappers:
            table = mapper.local_table
            if isinstance(table, sa.Table) and table.name in counts:
                assert len(session.scalars(sa.select(mapper.class_)).all()) == counts[table.name], table.name


@pytest.fixture
def sqlite_empty(tmp_path: Path) -> Iterator[Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'chain.sqlite3'}")
    yield engine
    engine.dispose()


def test_every_revision_file_is_in_the_chain_after_its_parents() -> None:
    chain = revision_chain()
    assert len(chain) == len(set(chain)) == len(list(VERSIONS.glob("0*.py")))
    script = ScriptDirectory.from_config(alembic_config())
    for position, name in enumerate(chain):
        revision = script.get_revision(name)
        assert revision is not None
        for parent in [*revision._normalized_down_revisions, *revision._normalized_resolved_dependencies]:
            assert chain.index(parent) < position, f"{name} comes before {parent}"


def test_sqlite_upgrades_step_by_step_with_data(sqlite_empty: Engine) -> None:
    counts = upgrade_step_by_step(sqlite_empty)
    assert len(counts) >= 10 and all(count == ROWS_PER_TABLE for count in counts.values())
    assert_models_read_every_row(sqlite_empty, counts)


@pytest.mark.postgres
def test_postgresql_upgrades_step_by_step_with_data(postgres_server: PostgresServer) -> None:
    engine = sa.create_engine(postgres_server.create_database("abb_migration_chain"))
    try:
        counts = upgrade_step_by_step(engine)
        assert len(counts) >= 10 and all(count == ROWS_PER_TABLE for count in counts.values())
        assert_models_read_every_row(engine, counts)
    finally:
        engine.dispose()


def test_a_migration_that_loses_rows_is_caught(sqlite_empty: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for a migration that deletes: after the last revision a row of a first-revision table is gone."""
    real_populate, seen = populate, []

    def populate_then_lose_a_row_at_the_last_revision(engine: Engine) -> dict[str, int]:
        counts = real_populate(engine)
        seen.append(counts)
        if len(seen) == len(revision_chain()):
            referenced = {fk.column.table.name for table in Base.metadata.tables.values() for fk in table.foreign_keys}
            victim = sorted(set(seen[0]) - referenced)[0]
            with engine.begin() as conn:
                conn.execute(sa.text(f"DELETE FROM {victim} WHERE rowid = (SELECT max(rowid) FROM {victim})"))
            counts = {**counts, victim: counts[victim] - 1}
        return counts

    monkeypatch.setattr(f"{__name__}.populate", populate_then_lose_a_row_at_the_last_revision)
    with pytest.raises(AssertionError, match=r"changed the rows of \w+: 3 -> 2"):
        upgrade_step_by_step(sqlite_empty)


def upgrade_source(path: Path) -> str:
    text = path.read_text()
    start = text.index("def upgrade(")
    end = text.find("def downgrade(", start)
    return text[start : end if end >= 0 else None]


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("0*.py")), ids=lambda p: p.stem)
def test_upgrades_only_expand_unless_a_contract_step_says_which_release_it_follows(path: Path) -> None:
    for line in upgrade_source(path).splitlines():
        if CONTRACT.search(line):
            assert "# contract:" in line, f"{path.name}: {line.strip()} needs '# contract: <release it follows>'"
