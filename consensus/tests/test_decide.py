"""consensus.decide on stored transcriptions: outcomes, reliability, review."""

from datetime import timedelta

import pytest
from django.utils import timezone

from consensus import services
from consensus.models import ConsensusDecision, StoppingThreshold
from contributors.models import ReliabilityScore
from recordings.models import Chunk, ChunkStatus
from recordings.tests.factories import make_chunks
from transcriptions.models import TaskSkip, Transcription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_audit")]

SENTENCE = "আমি দুধ দিয়ে চা খাই।"


def proven(user, accuracy: float = 0.95, language: str = "bn"):
    """A contributor with a long record at ``accuracy`` (100 words of evidence)."""
    ReliabilityScore.objects.create(
        user=user, language=language, alpha=100 * accuracy, beta=100 * (1 - accuracy)
    )
    return user


def transcribe(chunk, texts, make_user, flags=None, reliable=False):
    users = []
    for text in texts:
        user = proven(make_user()) if reliable else make_user()
        Transcription.objects.create(chunk=chunk, user=user, text=text, flags=flags or [])
        Chunk.objects.filter(pk=chunk.pk).update(transcriptions_received=len(users) + 1)
        users.append(user)
    return users


def test_three_agreeing_transcriptions_validate_the_chunk(make_user):
    (chunk,) = make_chunks(1)
    transcribe(
        chunk,
        [
            "the kettle began to whistle",
            "The kettle began to whistle.",
            "the kettle began to whistle",
        ],
        make_user,
        reliable=True,
    )
    decision = services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    assert decision.outcome == "validated"
    assert chunk.status == ChunkStatus.VALIDATED
    assert chunk.consensus_text.lower().startswith("the kettle began")
    assert chunk.confidence > 0.9
    assert [w for w, _ in chunk.word_confidence] == ["the", "kettle", "began", "to", "whistle"]
    assert decision.method_version and decision.decided_by == "auto"


def test_disagreement_asks_for_one_more_transcription(make_user):
    (chunk,) = make_chunks(1)
    transcribe(chunk, ["the kettle began to whistle", "a cattle began to whisper"], make_user)
    services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.OPEN
    assert chunk.transcriptions_required == 3
    assert ConsensusDecision.objects.get(chunk=chunk).outcome == "need_more"


def test_reaching_the_maximum_without_agreement_sends_to_review(make_user):
    (chunk,) = make_chunks(1)
    transcribe(
        chunk,
        [
            "one two three",
            "four five six",
            "seven eight nine",
            "ten eleven",
            "twelve",
            "thirteen fourteen",
            "fifteen",
        ],
        make_user,
    )
    services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.NEEDS_REVIEW


def test_two_unintelligible_flags_send_to_review(make_user):
    (chunk,) = make_chunks(1)
    transcribe(chunk, ["", ""], make_user, flags=["unintelligible"])
    services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.NEEDS_REVIEW


def test_reports_count_as_flags(make_user):
    (chunk,) = make_chunks(1)
    for _ in range(2):
        TaskSkip.objects.create(
            chunk=chunk, user=make_user(), kind="report", reason="wrong_language"
        )
    services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.NEEDS_REVIEW


def test_script_prior_confirmed_by_two_readers_validates(make_user):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    transcribe(chunk, ["আমি দুধ দিয়ে চা খাই", "আমি দুধ দিয়ে চা খাই।"], make_user)
    services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.VALIDATED
    assert chunk.consensus_text.rstrip("।") == "আমি দুধ দিয়ে চা খাই"


def test_deciding_twice_records_one_decision(make_user):
    (chunk,) = make_chunks(1)
    transcribe(chunk, ["the kettle", "a cattle"], make_user)
    services.consensus_decide(chunk_id=chunk.id)
    services.consensus_decide(chunk_id=chunk.id)
    assert ConsensusDecision.objects.filter(chunk=chunk).count() == 1


def test_an_answer_that_arrives_while_the_chunk_is_judged_is_judged_too(make_user):
    (chunk,) = make_chunks(1)
    text = "the kettle began to whistle"
    transcribe(chunk, [text, text], make_user, reliable=True)
    # The judgement is made without locks...
    judged = services._judge(chunk.id, services.engine_config(), lock=False)
    assert judged.decision.status == "need_more"
    # ...a third answer is stored meanwhile...
    Transcription.objects.create(chunk=chunk, user=proven(make_user()), text=text)
    Chunk.objects.filter(pk=chunk.pk).update(transcriptions_received=3)
    # ...so the stale judgement is not written: the chunk is judged again.
    decision = services._settle(judged, services.engine_config())
    assert decision.outcome == "validated" and decision.transcription_count == 3
    assert ConsensusDecision.objects.filter(chunk=chunk).count() == 1
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.VALIDATED


def test_an_unchanged_chunk_keeps_its_lock_free_judgement(make_user):
    (chunk,) = make_chunks(1)
    transcribe(chunk, ["the kettle began to whistle", "a cattle began to whisper"], make_user)
    judged = services._judge(chunk.id, services.engine_config(), lock=False)
    decision = services._settle(judged, services.engine_config())
    assert decision.outcome == "need_more" and decision.reason == judged.decision.reason
    assert Chunk.objects.get(pk=chunk.pk).transcriptions_required == 3


def test_validated_chunks_move_reliability_leave_one_out(make_user):
    (chunk,) = make_chunks(1)
    good_a, _, _ = transcribe(chunk, ["the kettle began to whistle"] * 3, make_user, reliable=True)
    (bad,) = transcribe(chunk, ["the kettle began to whisper"], make_user)
    Chunk.objects.filter(pk=chunk.pk).update(transcriptions_received=4)
    before = ReliabilityScore.objects.get(user=good_a).accuracy
    assert services.consensus_decide(chunk_id=chunk.id).outcome == "validated"
    scores = {s.user_id: s for s in ReliabilityScore.objects.all()}
    assert scores[good_a.id].accuracy > scores[bad.id].accuracy
    assert scores[good_a.id].accuracy >= before
    assert scores[bad.id].accuracy < 0.85  # below the newcomer prior
    assert scores[good_a.id].chunks == 1


def test_reviewer_correction_is_final_and_teaches_reliability(make_user, reviewer):
    (chunk,) = make_chunks(1)
    right, wrong = transcribe(chunk, ["the kettle began", "a cattle begun"], make_user)
    Chunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.NEEDS_REVIEW)
    services.chunk_review(
        chunk_id=chunk.id, reviewer=reviewer, action="correct", text="the kettle began"
    )
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.VALIDATED and chunk.consensus_text == "the kettle began"
    scores = {s.user_id: s.accuracy for s in ReliabilityScore.objects.all()}
    assert scores[right.id] > scores[wrong.id]
    latest = ConsensusDecision.objects.filter(chunk=chunk).first()
    assert latest.decided_by == "reviewer" and latest.reviewer == reviewer
    # The engine does not override a reviewer.
    assert services.consensus_decide(chunk_id=chunk.id) is None


def test_reviewer_reject(make_user, reviewer):
    (chunk,) = make_chunks(1)
    services.chunk_review(chunk_id=chunk.id, reviewer=reviewer, action="reject")
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.REJECTED


def test_audit_sends_some_validated_chunks_to_review(make_user, consensus_config):
    consensus_config(audit_rate=1.0)
    (chunk,) = make_chunks(1)
    transcribe(chunk, ["the kettle began"] * 3, make_user, reliable=True)
    decision = services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    assert decision.audit is True
    assert chunk.status == ChunkStatus.NEEDS_REVIEW


def test_unknown_consensus_setting_fails_loudly(consensus_config):
    consensus_config(margn=2)
    with pytest.raises(ValueError, match="margn"):
        services.engine_config()


def test_joint_reestimation_silences_a_contributor_who_disagrees_with_everyone(make_user):
    honest = [make_user() for _ in range(3)]
    spammer = make_user()
    sentence = "the kettle began to whistle on the stove"
    for chunk in make_chunks(12):
        for user in honest:
            Transcription.objects.create(chunk=chunk, user=user, text=sentence)
        Transcription.objects.create(chunk=chunk, user=spammer, text="lorem ipsum dolor sit")
        Chunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.VALIDATED, consensus_text=sentence
        )
    assert services.reliability_reestimate(language="bn") == 4
    scores = {s.user_id: s.accuracy for s in ReliabilityScore.objects.all()}
    assert min(scores[u.id] for u in honest) > 0.9
    assert scores[spammer.id] < 0.5


def test_finished_chunks_steer_the_stopping_threshold(make_user):
    start = services.engine_config().stop_expected_errors
    cheap, costly, disputed = make_chunks(3)
    transcribe(cheap, ["the kettle began"] * 3, make_user, reliable=True)
    assert services.consensus_decide(chunk_id=cheap.id).outcome == "validated"
    row = StoppingThreshold.objects.get(language="bn")
    # Three transcripts, under the budget: later chunks may take more.
    assert row.value < start and row.chunks == 1
    transcribe(costly, [f"word{k} other{k}" for k in range(7)], make_user)
    assert services.consensus_decide(chunk_id=costly.id).outcome == "needs_review"
    row.refresh_from_db()
    assert row.chunks == 2 and row.value > start * 0.99  # seven: over the budget, back up
    # Decisions use the stored threshold: the same disputed pair asks for more
    # under a low one and settles (the crowd's text is accepted) under a high one.
    transcribe(disputed, ["the kettle began", "the cattle began"], make_user)
    StoppingThreshold.objects.filter(language="bn").update(value=0.05)
    assert services.consensus_decide(chunk_id=disputed.id).outcome == "need_more"
    StoppingThreshold.objects.filter(language="bn").update(value=5.0)
    decision = services.consensus_decide(chunk_id=disputed.id)
    assert decision.outcome == "accepted" and "settled" in decision.reason
    disputed.refresh_from_db()
    assert disputed.status == ChunkStatus.ACCEPTED


def test_the_sweep_asks_again_for_decisions_whose_message_was_lost(make_user, settings):
    settings.CONSENSUS_STUCK_AFTER_SECONDS = 600
    lost, fresh, waiting, finished = make_chunks(4)
    long_ago = timezone.now() - timedelta(minutes=20)
    for chunk in (lost, fresh, waiting, finished):
        transcribe(chunk, ["the kettle began", "the kettle began"], make_user)
    Transcription.objects.exclude(chunk=fresh).update(created_at=long_ago)
    # ``lost`` and ``fresh`` hold both transcriptions they asked for; ``waiting``
    # still asks for a third, and ``finished`` was decided.
    Chunk.objects.filter(pk__in=[lost.pk, fresh.pk]).update(transcriptions_required=2)
    Chunk.objects.filter(pk=waiting.pk).update(transcriptions_required=3)
    Chunk.objects.filter(pk=finished.pk).update(status=ChunkStatus.NEEDS_REVIEW)
    Chunk.objects.update(updated_at=long_ago)

    assert services.chunks_sweep_undecided() == 1
    assert services.chunks_sweep_undecided() == 0  # touched: a full period for this attempt
    later = timezone.now() + timedelta(minutes=11)
    assert services.chunks_sweep_undecided(now=later) == 2  # lost again, and fresh now too
    # What the enqueued task runs: the chunk moves on, and is not swept again.
    services.consensus_decide(chunk_id=lost.id)
    lost.refresh_from_db()
    assert lost.status != ChunkStatus.OPEN or lost.transcriptions_required == 3
    assert services.chunks_sweep_undecided(now=later + timedelta(minutes=11)) == 1  # fresh only
