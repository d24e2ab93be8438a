"""The read replica: which reads may go there, and how fresh it is.

With ``DATABASE_REPLICA_URL`` set, ``ReplicaRouter`` sends the reads made
inside :func:`replica_reads` to the replica: the statistics, the dashboards'
platform figures, export planning's aggregates and the nightly
re-estimation's read. Every other read stays on the primary, and so does
every read made inside a transaction (it may need to see that transaction's
writes, and a row lock is only taken on the primary). Leases, submissions,
decisions and a contributor's own pages never read the replica, so replica
lag can make a figure a few seconds old but can never hand out a stale lease.

Without a replica there is no router and everything reads the primary.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextlib.contextmanager
def replica_reads() -> Iterator[None]:
    """Reads in this block (or function, as a decorator) may be served by the
    replica: use it only where data a few seconds old is correct."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def has_replica() -> bool:
    return REPLICA in connections.settings


class ReplicaRouter:
    """Writes to the primary; reads to the replica only inside ``replica_reads``."""

    def db_for_read(self, model, **hints) -> str:
        if _replica_reads.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        # Explicit, not None: Django would otherwise follow an object read
        # from the replica back there for its related rows.
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # The same rows on both servers.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        # The replica follows the primary's schema through replication.
        return db == DEFAULT_DB_ALIAS


def replica_caught_up(*, within: float) -> bool:
    """Whether the replica has replayed everything the primary had committed
    when this was called, waiting at most ``within`` seconds for it."""
    # The insert position, not the write position: with synchronous_commit off
    # a commit returns before its record is written, and a replica that has
    # replayed up to the write position may not have it yet.
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        (target,) = cursor.fetchone()
    deadline = time.monotonic() + within
    while True:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            (done,) = cursor.fetchone()
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def fresh_replica_alias(*, within: float) -> str:
    """The replica's alias if it holds every write committed so far (waiting up
    to ``within`` seconds for it), else the primary's: for reads that must not
    miss what came just before, but may come from the replica once it caught up."""
    if not has_replica():
        return DEFAULT_DB_ALIAS
    try:
        if replica_caught_up(within=within):
            return REPLICA
    except Exception:  # an unreachable replica must not stop the work
        logger.warning("The read replica cannot be reached; reading the primary", exc_info=True)
        return DEFAULT_DB_ALIAS
    logger.warning("The read replica is more than %s s behind; reading the primary", within)
    return DEFAULT_DB_ALIAS


def connection_release() -> None:
    """Hand this thread's database connections back before slow work that needs
    none (probing audio, hashing it, storing it in S3).

    Each web process has a pool of ``DB_POOL_MAX_SIZE`` connections and a
    request keeps the one it took until it ends. An upload spends seconds on
    its audio between the query that checks the script and the insert; holding
    a connection through that starved every other request in the process
    (100 uploaders and 64 transcribers on 4 processes: 140 requests answered
    503 after the pool's timeout). Inside a transaction nothing is released:
    closing would end it. The next query takes a connection again.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()
