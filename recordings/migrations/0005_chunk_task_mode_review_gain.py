from django.db import migrations, models

BATCH = 1000


def review_gain_of_chunks_in_review(apps, schema_editor):
    """Chunks already in review keep their place there (nothing is decided
    again); they get the review gain their last decision implies, so the queue's
    new order (most expected wrong words first) holds them too. A decision's
    confidence is 1 − expected wrong words / words, so the expected wrong words
    are (1 − confidence) × words."""
    Chunk = apps.get_model("recordings", "Chunk")
    rows = (
        Chunk.objects.filter(status="needs_review", confidence__isnull=False)
        .values_list("id", "confidence", "word_confidence")
        .iterator(chunk_size=BATCH)
    )
    batch = []
    for chunk_id, confidence, words in rows:
        gain = max(0.0, 1.0 - confidence) * len(words or [])
        batch.append(Chunk(id=chunk_id, review_gain=round(gain, 4)))
        if len(batch) == BATCH:
            Chunk.objects.bulk_update(batch, ["review_gain"])
            batch = []
    if batch:
        Chunk.objects.bulk_update(batch, ["review_gain"])


class Migration(migrations.Migration):

    dependencies = [
        ("recordings", "0004_recording_unique_reading"),
    ]

    operations = [
        migrations.AddField(
            model_name="chunk",
            name="review_gain",
            field=models.FloatField(db_default=0.0, default=0.0),
        ),
        migrations.AddField(
            model_name="chunk",
            name="task_mode",
            field=models.CharField(
                choices=[("transcribe", "Transcribe"), ("verify", "Verify")],
                db_default="transcribe",
                default="transcribe",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="chunk",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Open"),
                    ("validated", "Validated"),
                    ("accepted", "Accepted by the crowd"),
                    ("needs_review", "Needs review"),
                    ("rejected", "Rejected"),
                ],
                default="open",
                max_length=16,
            ),
        ),
        migrations.RunPython(review_gain_of_chunks_in_review, migrations.RunPython.noop),
    ]
