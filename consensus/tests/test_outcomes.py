"""Decisions with listeners' votes and the three outcomes: validated, accepted by
the crowd, needs review; the review queue's capacity and order; re-scores and
reviewers on accepted chunks."""

import pytest

from consensus import services
from consensus.models import ConsensusDecision, StoppingThreshold, chunk_name
from consensus.tests.test_decide import transcribe
from contributors.models import ReliabilityScore
from recordings.models import Chunk, ChunkStatus
from recordings.tests.factories import make_chunks
from transcriptions.models import Transcription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_audit")]

SENTENCE = "আমি দুধ দিয়ে চা খাই।"


def vote(chunk, answers, make_user):
    """Listeners' votes on the chunk's sentence, as the verify endpoint stores them."""
    users = []
    for matches in answers:
        user = make_user()
        Transcription.objects.create(
            chunk=chunk,
            user=user,
            text=chunk.expected_text if matches else "",
            source="verified",
            vote=matches,
        )
        users.append(user)
    Chunk.objects.filter(pk=chunk.pk).update(
        transcriptions_received=Transcription.objects.filter(chunk=chunk).count()
    )
    return users


def decided(chunk):
    decision = services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    return decision


# --- Votes --------------------------------------------------------------------------


def test_two_listeners_saying_yes_validate_the_sentence_and_learn_to_listen(make_user):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    first, second = vote(chunk, [True, True], make_user)
    decision = decided(chunk)
    assert decision.outcome == "validated"
    assert chunk.status == ChunkStatus.VALIDATED
    assert chunk.consensus_text == SENTENCE
    assert "says its sentence" in decision.reason
    scores = {s.user_id: s for s in ReliabilityScore.objects.all()}
    for user in (first, second):
        assert scores[user.id].listen_votes == 1
        assert scores[user.id].listen_accuracy > 0.8  # above the listener prior
        assert scores[user.id].chunks == 0  # their typing is not judged by a vote


def test_one_yes_asks_for_another_vote(make_user):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    vote(chunk, [True], make_user)
    assert decided(chunk).outcome == "need_more"
    assert (chunk.status, chunk.task_mode, chunk.transcriptions_required) == (
        ChunkStatus.OPEN,
        "verify",
        2,
    )
    assert chunk.review_gain > 0


def test_a_split_vote_asks_one_more_listener_and_a_second_no_moves_to_typing(make_user):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    vote(chunk, [True], make_user)
    decided(chunk)
    vote(chunk, [False], make_user)
    decision = decided(chunk)
    assert decision.outcome == "need_more" and "split on the sentence" in decision.reason
    assert (chunk.status, chunk.task_mode, chunk.transcriptions_required) == (
        ChunkStatus.OPEN,
        "verify",
        3,
    )
    vote(chunk, [False], make_user)
    assert decided(chunk).outcome == "need_more"
    assert (chunk.status, chunk.task_mode, chunk.transcriptions_required) == (
        ChunkStatus.OPEN,
        "transcribe",
        4,
    )


def test_a_typed_transcript_equal_to_the_sentence_counts_as_a_yes(make_user):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    vote(chunk, [True], make_user)
    transcribe(chunk, ["আমি দুধ দিয়ে চা খাই"], make_user)
    Chunk.objects.filter(pk=chunk.pk).update(transcriptions_received=2)
    assert decided(chunk).outcome == "validated"
    assert chunk.consensus_text == SENTENCE


def test_a_listener_outvoted_by_everyone_else_loses_listening_weight(make_user):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    yes_a, _, naysayer = vote(chunk, [True, True, False], make_user)
    transcribe(chunk, ["আমি দুধ দিয়ে চা খাই"], make_user)
    Chunk.objects.filter(pk=chunk.pk).update(transcriptions_received=4)
    assert decided(chunk).outcome == "validated"
    scores = {s.user_id: s.listen_accuracy for s in ReliabilityScore.objects.all()}
    assert scores[naysayer.id] < 0.8 < scores[yes_a.id]


def test_votes_weigh_their_listeners_record_and_blocked_listeners_count_nothing(make_user):
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    careless, blocked, fresh = vote(chunk, [True, True, True], make_user)
    # Wrong on most of 60 decided chunks: silenced as a listener, not as a typist.
    ReliabilityScore.objects.create(
        user=careless, language="bn", alpha=95, beta=5, listen_alpha=20, listen_beta=50
    )
    blocked.is_active = False
    blocked.save()
    weights = {
        t.contributor_id: t.weight
        for t in services._transcripts(chunk, services.engine_config())
        if t.vote is not None
    }
    assert weights[str(careless.id)] == 0.0
    assert weights[str(blocked.id)] == 0.0
    assert weights[str(fresh.id)] == pytest.approx(1.386, abs=0.01)  # logit(0.8), a newcomer
    # One counted yes is not two confirmations.
    assert decided(chunk).outcome == "need_more"
    assert chunk.task_mode == "verify"


def test_decided_votes_move_no_stopping_budget_of_typed_transcripts(make_user):
    start = services.engine_config().stop_expected_errors
    (chunk,) = make_chunks(1, expected_text=SENTENCE)
    vote(chunk, [True, True], make_user)
    assert decided(chunk).outcome == "validated"
    row = StoppingThreshold.objects.get(language="bn")
    # Zero typed transcripts: the budget (typed ones) was underspent.
    from consensus import engine

    assert row.value == pytest.approx(
        engine.budget_threshold(start, 0, services.engine_config()), rel=1e-6
    )


# --- Accepted, and the review queue's capacity ---------------------------------------


@pytest.fixture
def three_at_most(consensus_config):
    consensus_config(audit_rate=0.0, max_transcripts=3, validate_from=3, transcript_budget=3.0)


def test_the_crowds_settled_text_is_accepted_and_teaches(make_user, settings, three_at_most):
    settings.REVIEWS_PER_DAY = 0  # nobody reviews: what the crowd settles is kept
    (chunk,) = make_chunks(1)
    users = transcribe(
        chunk,
        ["the kettle began to whistle"] * 2 + ["the kettle began to whisper"],
        make_user,
    )
    decision = decided(chunk)
    assert decision.outcome == "accepted"
    assert chunk.status == ChunkStatus.ACCEPTED
    assert chunk.consensus_text == "the kettle began to whistle"
    assert 0 < chunk.confidence < 1 and chunk.review_gain == pytest.approx(
        (1 - chunk.confidence) * 5, abs=1e-3
    )
    scores = {s.user_id: s for s in ReliabilityScore.objects.all()}
    assert {scores[u.id].chunks for u in users} == {1}
    assert scores[users[0].id].accuracy > scores[users[2].id].accuracy
    # Nothing more is asked of an accepted chunk.
    assert services.consensus_decide(chunk_id=chunk.id) is None


def test_a_review_is_asked_for_only_while_the_queue_has_room(make_user, settings, consensus_config):
    # Reviewers cheap enough that a review pays before one more transcript.
    consensus_config(audit_rate=0.0, reviewer_price=0.1)
    settings.REVIEWS_PER_DAY = 1
    settings.REVIEWS_PER_DAY_BY_LANGUAGE = {}
    first, second, third = make_chunks(3)
    for chunk in (first, second, third):
        transcribe(chunk, ["the kettle began to whistle", "the cattle begun to whistle"], make_user)
    decision = decided(first)
    assert decision.outcome == "needs_review" and "a review pays" in decision.reason
    assert first.status == ChunkStatus.NEEDS_REVIEW
    # The queue holds what its reviewers clear in a day: one more volunteer instead.
    decision = decided(second)
    assert decision.outcome == "need_more" and "review queue full" in decision.reason
    assert (second.status, second.transcriptions_required) == (ChunkStatus.OPEN, 3)
    # The language's own capacity wins over the default.
    settings.REVIEWS_PER_DAY_BY_LANGUAGE = {"bn": 2}
    assert decided(third).outcome == "needs_review"


def test_the_queue_bound_is_counted_per_language(make_user, settings):
    from recordings.models import Language

    settings.REVIEWS_PER_DAY = 2
    english = Language.objects.create(code="en", name="English", native_name="English")
    bangla = make_chunks(2)
    Chunk.objects.filter(pk__in=[c.pk for c in bangla]).update(status=ChunkStatus.NEEDS_REVIEW)
    assert not services.review_queue_has_room(language_id=bangla[0].language_id, code="bn")
    assert services.review_queue_has_room(language_id=english.id, code="en")


def test_decisions_order_the_review_queue_by_what_a_review_fixes(
    make_user, reviewer, client, three_at_most
):
    small, large = make_chunks(2)
    transcribe(
        small,
        ["the kettle began to whistle", "the kettle began to whistle", "a kettle began to whistle"],
        make_user,
    )
    transcribe(
        large,
        ["the kettle began to whistle", "a cattle begun to whisper", "one two three four five"],
        make_user,
    )
    decisions = {c: decided(c) for c in (small, large)}
    assert {d.outcome for d in decisions.values()} == {"needs_review"}
    assert large.review_gain > small.review_gain > 0
    client.force_login(reviewer)
    page = client.get("/admin/consensus/reviewchunk/").content.decode()
    # The queue names chunks by script and sentence.
    assert page.index(chunk_name(large)) < page.index(chunk_name(small))


# --- Re-scores and reviewers on accepted chunks -------------------------------------


def test_a_rescore_trades_validated_and_accepted_and_keeps_review(
    make_user, settings, three_at_most
):
    settings.REVIEWS_PER_DAY = 0
    accepted, in_review = make_chunks(2)
    texts = ["the kettle began", "the kettle began", "the kettle begun"]
    users = transcribe(accepted, texts, make_user)
    helpers = transcribe(in_review, texts, make_user)
    assert decided(accepted).outcome == "accepted"
    Chunk.objects.filter(pk=in_review.pk).update(status=ChunkStatus.NEEDS_REVIEW)
    ConsensusDecision.objects.create(
        chunk=in_review, outcome="needs_review", method_version="x", decided_by="auto"
    )
    # The agreeing pairs prove reliable since: their weights now validate.
    for user in [*users[:2], *helpers[:2]]:
        ReliabilityScore.objects.update_or_create(
            user=user, language="bn", defaults={"alpha": 97, "beta": 3}
        )
    # (The odd one out stays a reliable voter: its record holds more than this chunk.)
    ReliabilityScore.objects.filter(user=users[2]).update(alpha=80, beta=20)
    assert services.chunks_rescore([accepted.id, in_review.id], reason="re-estimated") == 2
    accepted.refresh_from_db()
    in_review.refresh_from_db()
    assert accepted.status == ChunkStatus.VALIDATED
    assert in_review.status == ChunkStatus.NEEDS_REVIEW  # nothing leaves review by re-score
    latest = in_review.decisions.first()
    assert latest.outcome == "needs_review" and latest.reason.startswith("re-estimated")

    # One of the pair blocked: too few voters to validate, so the crowd's text
    # is accepted again; the chunk never reopens and never goes to review.
    users[0].is_active = False
    users[0].save()
    assert services.chunks_rescore([accepted.id], reason="blocked") == 1
    accepted.refresh_from_db()
    assert accepted.status == ChunkStatus.ACCEPTED
    assert accepted.decisions.first().outcome == "accepted"


def test_a_reviewer_promotes_or_corrects_accepted_chunks_and_listeners_learn(
    make_user, reviewer, settings, three_at_most
):
    settings.REVIEWS_PER_DAY = 0
    promoted, corrected = make_chunks(2, expected_text=SENTENCE)
    for chunk in (promoted, corrected):
        vote(chunk, [False], make_user)
        transcribe(chunk, ["আমি দুধ দিয়ে চা খাই", "আমি দুধ দিয়ে চা খায়"], make_user)
        Chunk.objects.filter(pk=chunk.pk).update(transcriptions_received=3)
        assert decided(chunk).outcome == "accepted"
    (naysayer_promoted,) = Transcription.objects.filter(chunk=promoted, vote=False).values_list(
        "user", flat=True
    )
    (naysayer_corrected,) = Transcription.objects.filter(chunk=corrected, vote=False).values_list(
        "user", flat=True
    )
    before = {
        s.user_id: (s.listen_alpha, s.listen_beta, s.listen_votes)
        for s in ReliabilityScore.objects.all()
    }

    services.chunk_review(
        chunk_id=promoted.id, reviewer=reviewer, action="accept", proposal=promoted.consensus_text
    )
    services.chunk_review(
        chunk_id=corrected.id, reviewer=reviewer, action="correct", text="আমি চা খাই"
    )
    promoted.refresh_from_db()
    corrected.refresh_from_db()
    assert promoted.status == corrected.status == ChunkStatus.VALIDATED
    assert corrected.consensus_text == "আমি চা খাই" and corrected.confidence == 1.0
    assert [d.decided_by for d in promoted.decisions.all()[:1]] == ["reviewer"]
    after = {s.user_id: s for s in ReliabilityScore.objects.all()}
    # The reviewer's text says whether the sentence was read as written: a "no"
    # on the corrected chunk was right, on the promoted one (the sentence) wrong.
    right, wrong = after[naysayer_corrected], after[naysayer_promoted]
    assert right.listen_votes == before[naysayer_corrected][2] + 1
    assert right.listen_accuracy > wrong.listen_accuracy


# --- Reading reliability ------------------------------------------------------------


def listening_at(users, accuracy: float, votes: int = 100):
    for user in users:
        ReliabilityScore.objects.update_or_create(
            user=user,
            language="bn",
            defaults={
                "alpha": 14,
                "beta": 6,
                "listen_alpha": accuracy * votes,
                "listen_beta": (1 - accuracy) * votes,
            },
        )


def test_a_readers_record_decides_how_much_their_sentence_is_believed(make_user, reviewer):
    faithful, new = make_user(), make_user()
    (read,) = make_chunks(1, contributor=faithful, expected_text=SENTENCE)
    listening_at(vote(read, [True, True], make_user), 0.86)
    assert decided(read).outcome == "validated"
    # Two proven listeners settled it without the reader: one reading as written.
    record = ReliabilityScore.objects.get(user=faithful, language="bn")
    assert record.readings == 1 and record.read_accuracy > services.engine_config().script_prior
    assert record.chunks == 0 and record.listen_votes == 0

    # Of a reader who read 95 of 100 chunks as written, a yes, a no and a yes
    # validate; of a new reader they ask one more listener (0.980 < 0.985).
    ReliabilityScore.objects.filter(pk=record.pk).update(read_alpha=95, read_beta=5)
    (proven_chunk,) = make_chunks(1, contributor=faithful, expected_text=SENTENCE)
    (new_chunk,) = make_chunks(1, contributor=new, expected_text=SENTENCE)
    for chunk in (proven_chunk, new_chunk):
        listening_at(vote(chunk, [True, False, True], make_user), 0.86)
    assert decided(proven_chunk).outcome == "validated"
    assert proven_chunk.status == ChunkStatus.VALIDATED
    assert decided(new_chunk).outcome == "need_more" and new_chunk.task_mode == "verify"

    # A reviewer who writes something else than the sentence counts against the reader.
    (misread,) = make_chunks(1, contributor=faithful, expected_text=SENTENCE)
    vote(misread, [False], make_user)
    before = ReliabilityScore.objects.get(user=faithful, language="bn")
    services.chunk_review(chunk_id=misread.id, reviewer=reviewer, action="correct", text="আমি চা খাই")
    after = ReliabilityScore.objects.get(user=faithful, language="bn")
    assert after.readings == before.readings + 1
    assert after.read_beta == pytest.approx(5 * 0.995 + 2 * 0.005 + 3.0, abs=0.01)
    assert after.read_accuracy < before.read_accuracy


# --- Nobody left to ask -------------------------------------------------------------


def test_chunks_every_active_volunteer_answered_are_finished_not_left_open(make_user):
    from datetime import timedelta

    from django.utils import timezone

    from consensus import tasks

    # A language of two volunteers: they split on one chunk (a third listener
    # is asked for) and answered another once.
    split, single, recent = make_chunks(3, expected_text=SENTENCE)
    first, second = make_user(), make_user()
    for chunk, voters in ((split, (first, second)), (single, (first,)), (recent, (first,))):
        for user, matches in zip(voters, (True, False), strict=False):
            Transcription.objects.create(
                chunk=chunk, user=user, text=SENTENCE if matches else "", source="verified",
                vote=matches,
            )  # fmt: skip
        Chunk.objects.filter(pk=chunk.pk).update(transcriptions_received=len(voters))
        decided(chunk)
    assert {c.status for c in (split, single, recent)} == {ChunkStatus.OPEN}
    # Two days later (the third chunk's answer is fresh, someone may still come).
    old = timezone.now() - timedelta(days=2)
    Transcription.objects.exclude(chunk=recent).update(created_at=old)
    Chunk.objects.filter(pk__in=[split.pk, single.pk, recent.pk]).update(updated_at=old)
    assert services.chunks_finish_unanswerable() == 1
    split.refresh_from_db()
    single.refresh_from_db()
    # The split goes to a reviewer (a review pays at the script prior), with why.
    assert split.status == ChunkStatus.NEEDS_REVIEW
    assert split.decisions.first().reason.startswith("nobody left to ask; a review pays")
    # The second volunteer has not answered the single-yes chunk: it still waits,
    # and was touched so the next run looks at other chunks first.
    assert single.status == ChunkStatus.OPEN and single.updated_at > old
    # Once they skip it too, nobody is left: the sentence stands, accepted.
    from transcriptions.models import TaskSkip

    TaskSkip.objects.create(chunk=single, user=second, kind="skip")
    Chunk.objects.filter(pk=single.pk).update(updated_at=old)
    assert tasks.finish_unanswerable() == 1
    single.refresh_from_db()
    assert single.status == ChunkStatus.ACCEPTED and single.consensus_text == SENTENCE
    recent.refresh_from_db()
    assert recent.status == ChunkStatus.OPEN
