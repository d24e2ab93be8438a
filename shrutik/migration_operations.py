"""Schema operations that keep a live database writable while they run."""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, RemoveIndex
from django.db.migrations.operations.base import Operation


class _ConcurrentOnPostgres:
    """The concurrent operation on PostgreSQL, its ``plain`` form elsewhere.

    A plain index build or drop locks the table against writes until it
    finishes: on a production chunk table that stops uploads and decisions for
    minutes. SQLite (the embedded default) has no concurrent form and no such
    traffic. The migration using it must set ``atomic = False``: PostgreSQL
    refuses a concurrent build or drop inside a transaction.
    """

    plain: type[Operation]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndexOnline(_ConcurrentOnPostgres, AddIndexConcurrently):
    """``CREATE INDEX CONCURRENTLY`` on PostgreSQL, a plain ``CREATE INDEX`` elsewhere."""

    plain = AddIndex


class RemoveIndexOnline(_ConcurrentOnPostgres, RemoveIndexConcurrently):
    """``DROP INDEX CONCURRENTLY`` on PostgreSQL, a plain ``DROP INDEX`` elsewhere."""

    plain = RemoveIndex
