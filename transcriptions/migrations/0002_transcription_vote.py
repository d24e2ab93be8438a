from django.db import migrations, models

from transcriptions.normalize import normalize

BATCH = 1000
# Flags whose transcription says nothing about the words (the engine's
# REVIEW_FLAGS): they neither confirm nor contradict a sentence.
SILENT_FLAGS = {"unintelligible", "wrong_language"}


def verifications_become_votes(apps, schema_editor):
    """A "matches" answer was stored as a transcription equal to the sentence,
    marked ``verified``: it is a yes vote. ("Does not match" made the listener
    type; those are typed transcriptions and stay so.)"""
    Transcription = apps.get_model("transcriptions", "Transcription")
    Transcription.objects.filter(source="verified", vote__isnull=True).update(vote=True)


def open_chunks_ask_for_votes(apps, schema_editor):
    """Open chunks with a script sentence that no answer contradicts are next
    offered for listen-and-vote; the others keep asking for typed text.
    Chunks already decided keep their status: nothing is decided again here."""
    Chunk = apps.get_model("recordings", "Chunk")
    Transcription = apps.get_model("transcriptions", "Transcription")
    scripted = Chunk.objects.filter(status="open").exclude(expected_text="")
    scripted.update(task_mode="verify")
    answers = (
        Transcription.objects.filter(chunk__status="open")
        .exclude(chunk__expected_text="")
        .values_list("chunk_id", "chunk__expected_text", "normalized_text", "flags")
        .order_by("chunk_id")
        .iterator(chunk_size=BATCH)
    )
    contradicted = set()
    sentences: dict[str, str] = {}
    for chunk_id, expected, heard, flags in answers:
        if chunk_id in contradicted or SILENT_FLAGS & set(flags or []):
            continue
        if expected not in sentences:
            sentences = {expected: normalize(expected)}
        if heard != sentences[expected]:
            contradicted.add(chunk_id)
    ids = sorted(contradicted)
    for start in range(0, len(ids), BATCH):
        Chunk.objects.filter(pk__in=ids[start : start + BATCH]).update(task_mode="transcribe")


class Migration(migrations.Migration):

    dependencies = [
        ("transcriptions", "0001_initial"),
        ("recordings", "0005_chunk_task_mode_review_gain"),
    ]

    operations = [
        migrations.AddField(
            model_name="transcription",
            name="vote",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.RunPython(verifications_become_votes, migrations.RunPython.noop),
        migrations.RunPython(open_chunks_ask_for_votes, migrations.RunPython.noop),
    ]
