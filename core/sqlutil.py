"""Small portable SQL helpers (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def table_of(model: type[SQLModel]) -> Any:
    """The SQLAlchemy Table behind a SQLModel table class (typed loosely for Core statements)."""
    return model.__table__  # type: ignore[attr-defined]


def insert_ignore(
    session: Session, model: type[SQLModel], values: dict[str, Any], conflict: list[str]
) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new id, or None when the row already existed.

    Field defaults of the model (timestamps, states) are applied as the ORM would."""
    obj = model(**values)
    table = table_of(model)
    row_values = {c.name: getattr(obj, c.name) for c in table.columns if c.name != "id"}
    dialect = session.get_bind().dialect.name
    ins: Any
    if dialect == "postgresql":
        ins = postgresql.insert(table)
    elif dialect == "sqlite":
        ins = sqlite.insert(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect}")
    stmt = ins.values(**row_values).on_conflict_do_nothing(index_elements=conflict).returning(table.c.id)
    row = session.execute(stmt).first()
    return None if row is None else int(row[0])
