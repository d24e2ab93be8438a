"""How this project's Celery workers survive their dependencies going away.

- ``Task``: the base of every task. A database that could not be reached (a
  restart, a failover, a pool with no free connection) is retried later with
  backoff instead of failing the work.
- ``Consumer``: keeps the worker alive when the broker connection dies.
- ``UnackedHeartbeat``: keeps the messages a live worker holds invisible to
  other workers, so that only a dead worker's messages are redelivered, and
  quickly (``visibility_timeout`` in settings).
- ``forget_inherited_pools``: a forked worker child builds its own database pool.
- ``requeue_after_grace``: a worker told to stop finishes its tasks, or puts
  them back on the queue before its grace period ends.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from celery import Task as BaseTask
from celery import bootsteps
from celery.utils.time import get_exponential_backoff_interval
from celery.worker.consumer import Consumer as BaseConsumer
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# About half an hour of attempts (2, 4, 8, ... capped at 5 minutes, with
# jitter): longer than a PostgreSQL restart or failover takes.
DB_RETRIES = 10
DB_RETRY_BACKOFF_MAX = 300


class Task(BaseTask):
    """Every task: retried with backoff when the database is unreachable.

    Django raises OperationalError for a refused or dropped connection and for
    a pool that had no free connection in time (psycopg_pool.PoolTimeout),
    InterfaceError for a connection that was already closed. Tasks are
    idempotent, so running one again later is always safe.
    """

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if self.request.called_directly:
                raise
            countdown = get_exponential_backoff_interval(
                factor=2,
                retries=self.request.retries,
                maximum=DB_RETRY_BACKOFF_MAX,
                full_jitter=True,
            )
            logger.warning(
                "%s could not reach the database (%s); retrying in %s s",
                self.name,
                exc,
                countdown,
            )
            # retry() re-raises exc once the attempts are used up.
            raise self.retry(
                exc=exc, countdown=countdown, max_retries=max(self.max_retries or 0, DB_RETRIES)
            ) from exc


class Consumer(BaseConsumer):
    """The worker's consumer, surviving a broker that dies under it.

    On a lost connection Celery first detaches the transport from the
    connection (``Connection.collect``), then closes it. Closing a Redis
    channel that still holds unacknowledged messages tries to put them back
    on the broker, which needs the detached transport: kombu raises
    AttributeError ('NoneType' object has no attribute 'hostname'), which is
    not a connection error, so it escaped and stopped the worker for good.
    The messages it could not put back are still in the broker's unacked set,
    and come back after the visibility timeout.
    """

    def on_connection_error_after_connected(self, exc):
        connection = self.connection
        if connection is not None:
            close = connection.close

            def close_even_if_detached():
                try:
                    close()
                except AttributeError:
                    logger.warning(
                        "Could not hand back unacknowledged messages on a dead broker"
                        " connection; they return after the visibility timeout.",
                        exc_info=True,
                    )

            # Only this dead connection's close, used once just below.
            connection.close = connection.release = close_even_if_detached
        super().on_connection_error_after_connected(exc)


class UnackedHeartbeat(bootsteps.StartStopStep):
    """Refreshes, every few seconds, the broker's record of the messages this
    worker holds (running, reserved or waiting for their ETA).

    With late acknowledgement a message stays in Redis's unacked set until its
    task is done, and any worker puts back a message left there longer than
    the visibility timeout. A timeout longer than the longest task (hours, for
    an export) would leave a killed worker's work waiting that long; a short
    one would hand a long task still running to a second worker. Refreshing
    what a live worker holds allows the short one: only a dead worker's
    messages age, and they come back within about a minute.

    A thread, not a timer of the event loop: it keeps going whichever pool
    runs the tasks, and stops with the process.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)
    label = "unacked heartbeat"

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.stopped: threading.Event | None = None

    def start(self, parent):
        channel = parent.task_consumer.channel
        qos = channel.qos
        if not hasattr(qos, "unacked_index_key"):
            return  # not the Redis transport: nothing ages
        interval = max(1.0, min(15.0, channel.visibility_timeout / 4))
        self.stopped = threading.Event()
        threading.Thread(
            target=self._run,
            args=(channel, qos, interval, self.stopped),
            name="unacked-heartbeat",
            daemon=True,
        ).start()

    def stop(self, parent):
        # Also on a lost connection: the next start() follows the new channel.
        if self.stopped is not None:
            self.stopped.set()
            self.stopped = None

    shutdown = stop

    @staticmethod
    def _run(channel, qos, interval: float, stopped: threading.Event) -> None:
        while not stopped.wait(interval):
            try:
                # Acknowledged tags wait in _dirty until kombu's next flush.
                tags = [tag for tag in list(qos._delivered) if tag not in qos._dirty]
            except RuntimeError:  # changed by the consumer while copied
                continue
            if not tags:
                continue
            now = time.time()
            try:
                with channel.conn_or_acquire() as client:
                    # XX: only refresh; a message acknowledged meanwhile is gone
                    # from the set and must not come back.
                    client.zadd(qos.unacked_index_key, dict.fromkeys(tags, now), xx=True)
            except Exception:  # the broker is down: the consumer reconnects
                logger.warning("Could not refresh unacknowledged messages", exc_info=True)


def forget_inherited_pools(**kwargs) -> None:
    """worker_process_init: a forked child must not use its parent's pool.

    A pool the parent opened holds the parent's sockets: the child would send
    its queries down them, and closing them would end the parent's sessions.
    The child drops its reference without closing anything (keeping the
    objects alive, so no finaliser closes them either) and builds its own pool
    on first use. Celery's Django fixup then closes each child's pool at task
    boundaries, so a child holds at most DB_POOL_MAX_SIZE connections.
    """
    from django.db.backends.postgresql.base import DatabaseWrapper

    pools = DatabaseWrapper._connection_pools
    if pools:
        _INHERITED.extend(pools.values())
        pools.clear()


_INHERITED: list = []


def requeue_after_grace(sender=None, how=None, **kwargs) -> None:
    """worker_shutting_down: bound the warm shutdown that SIGTERM starts.

    A warm shutdown stops consuming and waits for the running tasks however
    long they take; an orchestrator kills the worker when its grace period
    ends (Kubernetes' terminationGracePeriodSeconds, compose's
    stop_grace_period), and the killed tasks' messages come back only after
    the visibility timeout. After ``WORKER_SHUTDOWN_GRACE_SECONDS`` this turns
    the warm shutdown into Celery's cold one, which stops the tasks still
    running and, as they are acknowledged late, puts their messages back on
    the queue at once for another worker. Tasks are idempotent, so the one
    that was stopped simply runs again. 0 waits for the tasks (the default).
    """
    from django.conf import settings

    grace = settings.WORKER_SHUTDOWN_GRACE_SECONDS
    if how != "Warm" or grace <= 0:
        return
    logger.info("Warm shutdown: running tasks have %s s to finish before they are requeued", grace)
    timer = threading.Timer(grace, os.kill, args=(os.getpid(), signal.SIGQUIT))
    timer.daemon = True
    timer.start()
