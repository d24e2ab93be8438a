"""Listen-and-vote on a database that older releases filled."""

import pytest

from shrutik.testing import migrate
from transcriptions.normalize import normalize

BEFORE = [("recordings", "0004_recording_unique_reading"), ("transcriptions", "0001_initial")]
SENTENCE = "আমি দুধ দিয়ে চা খাই।"


@pytest.mark.django_db(transaction=True)
def test_chunks_keep_their_status_verifications_become_votes_and_open_chunks_ask_for_votes(
    make_user,
):
    from recordings.tests.factories import LanguageFactory, make_script

    language = LanguageFactory()
    script = make_script(language, SENTENCE)
    reader, listener, typist = make_user(), make_user(), make_user()
    try:
        old = migrate(BEFORE)
        Recording = old.get_model("recordings", "Recording")
        Chunk = old.get_model("recordings", "Chunk")
        Transcription = old.get_model("transcriptions", "Transcription")
        recording = Recording.objects.create(
            contributor_id=reader.id, script_id=script.id, sha256="0" * 64, status="chunked"
        )

        def chunk(index, *answers, **fields):
            made = Chunk.objects.create(
                recording_id=recording.id,
                language_id=language.id,
                contributor_id=reader.id,
                index=index,
                start=index * 3.0,
                end=index * 3.0 + 2.5,
                duration=2.5,
                audio=f"chunks/{recording.id}/{index}.flac",
                **fields,
            )
            for user, text, extra in answers:
                Transcription.objects.create(
                    chunk_id=made.id, user_id=user.id, text=text,
                    normalized_text=normalize(text), **extra,
                )  # fmt: skip
            return made

        verified = {"source": "verified"}
        confirmed = chunk(0, (listener, SENTENCE, verified), expected_text=SENTENCE)
        typed_alike = chunk(1, (typist, "আমি দুধ দিয়ে চা খাই", {}), expected_text=SENTENCE)
        contradicted = chunk(
            2, (listener, SENTENCE, verified), (typist, "আমি চা খাই", {}), expected_text=SENTENCE
        )
        unheard = chunk(3, (typist, "", {"flags": ["unintelligible"]}), expected_text=SENTENCE)
        unscripted = chunk(4, (typist, "আমি চা খাই", {}))
        in_review = chunk(
            5,
            (typist, "আমি চা খাই", {}),
            expected_text=SENTENCE,
            status="needs_review",
            confidence=0.8,
            consensus_text="আমি দুধ দিয়ে চা খাই",
            word_confidence=[[w, 0.8] for w in ["আমি", "দুধ", "দিয়ে", "চা", "খাই"]],
        )
        validated = chunk(6, (listener, SENTENCE, verified), expected_text=SENTENCE,
                          status="validated", confidence=1.0)  # fmt: skip

        new = migrate()
        Chunk = new.get_model("recordings", "Chunk")
        Transcription = new.get_model("transcriptions", "Transcription")
        chunks = {c.id: c for c in Chunk.objects.all()}
        # Nothing is decided again: every chunk keeps its status.
        assert {chunks[c.id].status for c in (in_review,)} == {"needs_review"}
        assert chunks[validated.id].status == "validated"
        assert {chunks[c.id].status for c in (confirmed, typed_alike, contradicted)} == {"open"}
        # Chunks already in review are ordered by what their last decision left in doubt.
        assert chunks[in_review.id].review_gain == pytest.approx(0.2 * 5)
        assert chunks[validated.id].review_gain == 0.0
        # Open chunks whose sentence nobody contradicted ask for votes.
        modes = {c: chunks[c.id].task_mode for c in (confirmed, typed_alike, unheard)}
        assert set(modes.values()) == {"verify"}
        assert chunks[contradicted.id].task_mode == "transcribe"
        assert chunks[unscripted.id].task_mode == "transcribe"
        # "Matches" answers were transcriptions equal to the sentence: yes votes.
        votes = set(Transcription.objects.values_list("source", "vote"))
        assert votes == {("verified", True), ("typed", None)}
    finally:
        migrate()
