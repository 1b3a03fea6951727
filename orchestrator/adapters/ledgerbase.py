"""What the ledger's tables stand on (:mod:`orchestrator.adapters.ledger` and its notice outbox,
:mod:`orchestrator.adapters.outbox`): one declarative base, the JSON column type, and the one place
where database errors become govcloud errors; how a connection reads and how JSON is read."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase

from orchestrator.errors import ConflictError, ExternalError

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


#: Digits made zeros, then 19 zeros looked for: a number orjson may not read as json does (it reads
#: integers beyond 64 bits as floats). Two C passes; a regular expression took longer than the parse.
_DIGITS, _LONG_NUMBER = bytes.maketrans(b"123456789", b"0" * 9), b"0" * 19


def loads(text: str | bytes) -> Any:
    """JSON text as :func:`json.loads` reads it, three times faster (orjson: a queue page reads 100
    snapshots of 1.6 kB). Text with a long number, and what orjson refuses (``NaN``, lone
    surrogates, text that is not JSON), goes to :func:`json.loads`: the answer, or the error, is the same."""
    raw = text.encode(errors="surrogatepass") if isinstance(text, str) else text
    if _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def reading(engine: sa.Engine) -> sa.Connection:
    """A connection for one read. On PostgreSQL it is in autocommit: the read is one round trip, not
    three (no ``BEGIN`` before it, no ``ROLLBACK`` when the pool takes the connection back), and
    psycopg keeps the statements it prepared after five runs (a ``ROLLBACK`` makes it forget them,
    so the server planned every query anew). A statement sees what was committed when it started,
    as in the READ COMMITTED transaction it replaces; SQLite reads never held a transaction."""
    conn = engine.connect()
    return conn.execution_options(isolation_level="AUTOCOMMIT") if conn.dialect.name == "postgresql" else conn


class Base(DeclarativeBase):
    pass


@contextlib.contextmanager
def _converted(application: str = "", location: str = "") -> Iterator[None]:
    """The one place where database errors become govcloud errors."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise ConflictError(f"{application or 'the ledger'} changed meanwhile, retry") from exc
    except sa_exc.SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())  # the driver's message, where one
        if "readonly database" in reason:
            raise ExternalError(
                "the ledger is read-only here: status, history and deadlines read it, "
                "recording a step needs write access to the database file and its directory"
            ) from exc
        at = f" at {location}" if location else ""
        raise ExternalError(f"ledger database{at}: {exc.__class__.__name__}: {reason}"[:500]) from exc
