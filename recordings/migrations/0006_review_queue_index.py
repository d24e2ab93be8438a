from django.db import migrations, models

from shrutik.migration_operations import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):
    # Built and dropped without locking chunk writes (CONCURRENTLY), which
    # PostgreSQL refuses inside a transaction. The new index exists before the
    # old one goes, so the queue is always served by one of them.
    atomic = False

    dependencies = [
        ("recordings", "0005_chunk_task_mode_review_gain"),
    ]

    operations = [
        AddIndexOnline(
            model_name="chunk",
            index=models.Index(
                condition=models.Q(("status__in", ["needs_review", "accepted"])),
                fields=["status", "-review_gain", "created_at"],
                name="chunk_review_queue_idx",
            ),
        ),
        RemoveIndexOnline(
            model_name="chunk",
            name="chunk_review_idx",
        ),
    ]
