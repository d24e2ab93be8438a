"""Review in the admin, re-scoring with new reliabilities, and blocked contributors."""

import re
from urllib.parse import urlencode

import pytest

from consensus import services, tasks
from consensus.models import ConsensusDecision, chunk_name
from consensus.tests.test_decide import proven, transcribe
from contributors import services as contributor_services
from contributors.models import ReliabilityScore
from recordings.models import Chunk, ChunkStatus
from recordings.tests.factories import LanguageFactory, make_chunks
from transcriptions.models import TaskLease, Transcription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_audit")]

QUEUE = "/admin/consensus/reviewchunk/"


@pytest.fixture
def two_at_most(consensus_config):
    """Chunks stop at two transcripts, so a disagreeing pair goes to review."""
    consensus_config(audit_rate=0.0, max_transcripts=2, validate_from=2, transcript_budget=2.0)


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


def in_review(make_user, texts=("the kettle began to whistle", "the cattle begun to whistle")):
    (chunk,) = make_chunks(1)
    users = transcribe(chunk, list(texts), make_user)
    Chunk.objects.filter(pk=chunk.pk).update(transcriptions_required=len(texts))
    services.consensus_decide(chunk_id=chunk.id)
    chunk.refresh_from_db()
    return chunk, users


# --- The review queue -------------------------------------------------------------


def test_the_queue_lists_chunks_in_review_where_a_review_fixes_most_first(
    reviewer_client, make_user, two_at_most
):
    sure, unsure, validated = make_chunks(3)
    Chunk.objects.filter(pk=sure.pk).update(
        status=ChunkStatus.NEEDS_REVIEW, review_gain=0.3, consensus_text="fairly sure text"
    )
    Chunk.objects.filter(pk=unsure.pk).update(
        status=ChunkStatus.NEEDS_REVIEW, review_gain=2.5, consensus_text="very unsure text"
    )
    Chunk.objects.filter(pk=validated.pk).update(
        status=ChunkStatus.VALIDATED, consensus_text="already validated"
    )
    page = reviewer_client.get(QUEUE).content.decode()
    assert "very unsure text" in page and "fairly sure text" in page
    assert "already validated" not in page
    assert page.index("very unsure text") < page.index("fairly sure text")


@pytest.mark.parametrize("status", [None, ChunkStatus.ACCEPTED])
def test_the_queue_and_the_accepted_tier_are_read_through_their_index(reviewer_client, status):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for chunk in make_chunks(3):
        Chunk.objects.filter(pk=chunk.pk).update(
            status=status or ChunkStatus.NEEDS_REVIEW, review_gain=0.5
        )
    with CaptureQueriesContext(connection) as queries:
        params = {"status__exact": status} if status else {}
        assert reviewer_client.get(QUEUE, params).status_code == 200
    (listing,) = [
        q["sql"] for q in queries if "ORDER BY" in q["sql"] and '"review_gain" DESC' in q["sql"]
    ]
    with connection.cursor() as cursor:
        # A test table is tiny, so a plain scan would always win: take it off
        # the table and check that the index can serve the page.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + listing)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "chunk_review_queue_idx" in plan, plan


@pytest.mark.django_db(transaction=True)  # the migration's SQL is built outside a transaction
def test_the_queue_index_is_built_without_locking_chunk_writes():
    """Uploads and decisions keep writing chunks while a deployment builds it."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sqlmigrate", "recordings", "0002", stdout=out)
    sql = out.getvalue()
    assert 'CREATE INDEX CONCURRENTLY "chunk_review_idx"' in sql, sql
    assert "BEGIN" not in sql  # PostgreSQL refuses a concurrent build in a transaction
    # Its successor, ordered by review gain, replaces it the same way.
    out = StringIO()
    call_command("sqlmigrate", "recordings", "0006", stdout=out)
    sql = out.getvalue()
    assert 'CREATE INDEX CONCURRENTLY "chunk_review_queue_idx"' in sql, sql
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "chunk_review_idx"' in sql, sql
    assert sql.index("chunk_review_queue_idx") < sql.index("DROP INDEX")
    assert "BEGIN" not in sql


def test_the_queue_filters_by_confidence_band(reviewer_client):
    for confidence in (0.5, 0.93, 0.99):
        (chunk,) = make_chunks(1)
        Chunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.NEEDS_REVIEW,
            confidence=confidence,
            consensus_text=f"text at {confidence}",
        )
    for band, shown in (("low", "0.5"), ("medium", "0.93"), ("high", "0.99")):
        page = reviewer_client.get(QUEUE, {"confidence_band": band}).content.decode()
        assert [c for c in ("0.5", "0.93", "0.99") if f"text at {c}" in page] == [shown]


def test_the_queue_tells_audit_samples_from_doubtful_chunks(
    reviewer_client, make_user, consensus_config
):
    consensus_config(audit_rate=1.0)
    (sampled,) = make_chunks(1)
    transcribe(sampled, ["the kettle began"] * 3, make_user, reliable=True)
    services.consensus_decide(chunk_id=sampled.id)
    doubtful = in_review(make_user, ("a cattle begun", "the kettle began"))[0]
    Chunk.objects.filter(pk=doubtful.pk).update(status=ChunkStatus.NEEDS_REVIEW)
    pages = {
        why: reviewer_client.get(QUEUE, {"why": why}).content.decode() for why in ("audit", "doubt")
    }
    assert chunk_name(sampled) in pages["audit"] and chunk_name(doubtful) not in pages["audit"]
    assert chunk_name(doubtful) in pages["doubt"] and chunk_name(sampled) not in pages["doubt"]


def test_a_chunk_page_shows_audio_transcripts_reliability_and_doubtful_words(
    reviewer_client, make_user, two_at_most
):
    chunk, (_, second) = in_review(make_user)
    ReliabilityScore.objects.create(user=second, language="bn", alpha=90, beta=10)
    page = reviewer_client.get(f"{QUEUE}{chunk.pk}/change/").content.decode()
    assert "<audio" in page
    for transcription in Transcription.objects.filter(chunk=chunk):
        assert transcription.text in page
    assert "90% (weight" in page  # the proven transcriber
    assert "70% (weight 0.85, newcomer)" in page  # the prior of a newcomer
    # Doubtful words are shaded by how unsure the engine is, with classes: the
    # site's CSP refuses inline styles. Confidence reads as a percentage.
    assert 'class="word doubt-' in page and "style=" not in page.split("word-confidence")[1][:2000]
    assert "static/css/review.css" in page
    assert f"{chunk.confidence:.0%}" in page and str(chunk.confidence) not in page
    assert f'name="_proposal" value="{chunk.consensus_text}"' in page


def test_accept_correct_and_reject_from_the_chunk_page(
    reviewer_client, reviewer, make_user, two_at_most
):
    chunks = [in_review(make_user)[0] for _ in range(3)]
    assert {c.status for c in chunks} == {ChunkStatus.NEEDS_REVIEW}
    accept, correct, reject = chunks
    url = f"{QUEUE}{{}}/change/"

    reviewer_client.post(
        url.format(accept.pk), {"_review_accept": "1", "_proposal": accept.consensus_text}
    )
    reviewer_client.post(
        url.format(correct.pk),
        {"_review_correct": "1", "corrected_text": "the kettle began to whistle"},
    )
    reviewer_client.post(url.format(reject.pk), {"_review_reject": "1"})

    for chunk in chunks:
        chunk.refresh_from_db()
    assert accept.status == ChunkStatus.VALIDATED
    assert correct.status == ChunkStatus.VALIDATED
    assert correct.consensus_text == "the kettle began to whistle"
    assert reject.status == ChunkStatus.REJECTED
    assert ConsensusDecision.objects.filter(decided_by="reviewer", reviewer=reviewer).count() == 3


def test_accepting_a_proposal_that_changed_meanwhile_is_refused(
    reviewer_client, make_user, two_at_most
):
    chunk, _ = in_review(make_user)
    seen = chunk.consensus_text
    Chunk.objects.filter(pk=chunk.pk).update(consensus_text="a newer proposal")
    response = reviewer_client.post(
        f"{QUEUE}{chunk.pk}/change/", {"_review_accept": "1", "_proposal": seen}, follow=True
    )
    assert "proposed text changed" in response.content.decode()
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.NEEDS_REVIEW


def test_bulk_accept_and_reject(reviewer_client, make_user, two_at_most):
    one, two = in_review(make_user)[0], in_review(make_user)[0]
    reviewer_client.post(QUEUE, {"action": "accept_proposals", "_selected_action": [one.pk]})
    reviewer_client.post(QUEUE, {"action": "reject_chunks", "_selected_action": [two.pk]})
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, two.status) == (ChunkStatus.VALIDATED, ChunkStatus.REJECTED)


def test_the_accepted_tier_is_listed_apart_and_promoted_or_corrected_in_the_admin(
    reviewer_client, reviewer, make_user, settings, two_at_most
):
    settings.REVIEWS_PER_DAY = 0  # no room for reviews: the crowd's texts are accepted
    promote, correct, bulk = (in_review(make_user)[0] for _ in range(3))
    assert {c.status for c in (promote, correct, bulk)} == {ChunkStatus.ACCEPTED}
    (waiting,) = make_chunks(1)
    Chunk.objects.filter(pk=waiting.pk).update(status=ChunkStatus.NEEDS_REVIEW)
    queue = reviewer_client.get(QUEUE).content.decode()
    tier = reviewer_client.get(QUEUE, {"status__exact": "accepted"}).content.decode()
    assert chunk_name(waiting) in queue and chunk_name(promote) not in queue
    assert all(chunk_name(c) in tier for c in (promote, correct, bulk))
    assert chunk_name(waiting) not in tier
    assert "Accepted by the crowd" in tier  # the status filter offers the tier

    url = f"{QUEUE}{{}}/change/"
    page = reviewer_client.get(url.format(promote.pk)).content.decode()
    assert f'name="_proposal" value="{promote.consensus_text}"' in page
    reviewer_client.post(
        url.format(promote.pk), {"_review_accept": "1", "_proposal": promote.consensus_text}
    )
    reviewer_client.post(
        url.format(correct.pk),
        {"_review_correct": "1", "corrected_text": "the kettle began to whistle"},
    )
    # The bulk action, from the tier's page (the form posts to its own filtered URL).
    reviewer_client.post(
        f"{QUEUE}?status__exact=accepted",
        {"action": "accept_proposals", "_selected_action": [bulk.pk]},
    )
    for chunk in (promote, correct, bulk):
        chunk.refresh_from_db()
        assert chunk.status == ChunkStatus.VALIDATED and chunk.confidence == 1.0
    assert correct.consensus_text == "the kettle began to whistle"
    assert ConsensusDecision.objects.filter(decided_by="reviewer", reviewer=reviewer).count() == 3


def test_a_contributor_made_reviewer_in_the_admin_works_the_queue_and_nothing_more(
    admin_client, client, make_user, two_at_most
):
    user = make_user()
    admin_client.post(
        "/admin/contributors/user/", {"action": "make_reviewer", "_selected_action": [user.pk]}
    )
    chunk, _ = in_review(make_user)
    client.force_login(user)
    assert client.get(QUEUE).status_code == 200
    assert client.get(f"{QUEUE}{chunk.pk}/change/").status_code == 200
    client.post(
        f"{QUEUE}{chunk.pk}/change/", {"_review_accept": "1", "_proposal": chunk.consensus_text}
    )
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.VALIDATED
    assert ConsensusDecision.objects.filter(decided_by="reviewer", reviewer=user).count() == 1
    # Staff status came with the role, for the queue: it opens no researcher's page.
    assert client.get("/exports/").status_code == 403
    assert client.get("/api/exports/").status_code == 403
    assert client.get("/admin/exports/export/").status_code == 403


# --- Re-scoring with re-estimated reliabilities -----------------------------------


def test_reestimation_rescores_the_proposals_waiting_for_review(make_user, reviewer, two_at_most):
    careless, careful = make_user(), make_user()
    sentence = "the kettle began to whistle on the stove"
    # A record: the careful one agrees with two others, the careless one not.
    for chunk in make_chunks(10):
        Transcription.objects.create(chunk=chunk, user=careful, text=sentence)
        Transcription.objects.create(chunk=chunk, user=make_user(), text=sentence)
        Transcription.objects.create(chunk=chunk, user=make_user(), text=sentence)
        Transcription.objects.create(chunk=chunk, user=careless, text="the cattle begun to whistle")
        Chunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.VALIDATED, consensus_text=sentence
        )
    # Decided while both were newcomers: the tie goes to the first transcript.
    (waiting,) = make_chunks(1)
    Transcription.objects.create(chunk=waiting, user=careless, text="the cattle begun")
    Transcription.objects.create(chunk=waiting, user=careful, text="the kettle began")
    Chunk.objects.filter(pk=waiting.pk).update(transcriptions_received=2)
    services.consensus_decide(chunk_id=waiting.id)
    waiting.refresh_from_db()
    assert waiting.status == ChunkStatus.NEEDS_REVIEW
    assert waiting.consensus_text == "the cattle begun"
    # A reviewer's text is final, whatever the weights say.
    (settled,) = make_chunks(1)
    Transcription.objects.create(chunk=settled, user=careless, text="the cattle begun")
    Transcription.objects.create(chunk=settled, user=careful, text="the kettle began")
    Chunk.objects.filter(pk=settled.pk).update(transcriptions_received=2)
    services.consensus_decide(chunk_id=settled.id)
    services.chunk_review(
        chunk_id=settled.id, reviewer=reviewer, action="correct", text="the cattle begun"
    )

    decided_at = waiting.updated_at
    services.reliability_reestimate(language="bn")

    waiting.refresh_from_db()
    settled.refresh_from_db()
    assert waiting.consensus_text == "the kettle began"
    # Still dated when it was decided: the next night's window keeps decision order.
    assert waiting.updated_at == decided_at
    assert waiting.status == ChunkStatus.NEEDS_REVIEW
    latest = waiting.decisions.first()
    assert latest.decided_by == "auto" and latest.reason.startswith("re-scored")
    assert settled.consensus_text == "the cattle begun"
    # Nothing changed since: running again records nothing new.
    count = ConsensusDecision.objects.count()
    services.reliability_reestimate(language="bn")
    assert ConsensusDecision.objects.count() == count


# --- Blocking contributors --------------------------------------------------------


def block(admin_client, users, django_capture_on_commit_callbacks):
    """Block through the admin and run what the commit triggers: the lease
    release at once, and the re-score task the way a worker would run it."""
    with django_capture_on_commit_callbacks() as committed:
        admin_client.post(
            "/admin/contributors/user/",
            {"action": "block_users", "_selected_action": [u.pk for u in users]},
        )
    with django_capture_on_commit_callbacks() as enqueued:
        for callback in committed:
            callback()
    assert len(enqueued) == 1  # one re-score task for the whole batch
    tasks.rescore_contributors.apply(args=[[u.pk for u in users], True]).get()


def test_blocking_a_contributor_stops_their_work_counting(
    admin_client, make_user, django_capture_on_commit_callbacks
):
    (chunk,) = make_chunks(1)
    doubtful = proven(make_user())
    Transcription.objects.create(chunk=chunk, user=doubtful, text="the kettle began")
    transcribe(chunk, ["the kettle began"] * 2, make_user, reliable=True)
    Chunk.objects.filter(pk=chunk.pk).update(transcriptions_received=3)
    assert services.consensus_decide(chunk_id=chunk.id).outcome == "validated"
    (held,) = make_chunks(1)
    TaskLease.objects.create(
        chunk=held, user=doubtful, expires_at="2999-01-01T00:00:00Z", mode="transcribe"
    )

    block(admin_client, [doubtful], django_capture_on_commit_callbacks)

    doubtful.refresh_from_db()
    chunk.refresh_from_db()
    assert not doubtful.is_active and doubtful.is_blocked
    assert not TaskLease.objects.filter(user=doubtful).exists()
    # Two reliable voters are left: not enough to validate. The crowd's text
    # stays, accepted below the validated bar (a re-score sends nothing to review).
    assert chunk.status == ChunkStatus.ACCEPTED
    latest = chunk.decisions.first()
    assert latest.outcome == "accepted" and "blocked" in latest.reason
    assert doubtful.pk not in {
        int(t.contributor_id)
        for t in services._transcripts(chunk, services.engine_config())
        if t.weight
    }
    assert str(services.contributor_standing([doubtful.pk], "bn")[doubtful.pk]).startswith(
        "blocked"
    )


def test_the_contributor_page_shows_reliability_and_unblocking_restores(
    admin_client, make_user, django_capture_on_commit_callbacks
):
    user = make_user()
    ReliabilityScore.objects.create(user=user, language="bn", alpha=45, beta=5, chunks=12)
    page = admin_client.get(f"/admin/contributors/user/{user.pk}/change/").content.decode()
    assert "90.0%" in page and "word accuracy" in page.lower()

    block(admin_client, [user], django_capture_on_commit_callbacks)
    user.refresh_from_db()
    assert user.is_blocked
    with django_capture_on_commit_callbacks(execute=False) as committed:
        admin_client.post(
            "/admin/contributors/user/",
            {"action": "unblock_users", "_selected_action": [user.pk]},
        )
    assert len(committed) == 1
    user.refresh_from_db()
    assert user.is_active and not user.is_blocked


def test_blocking_leaves_erased_accounts_and_the_acting_admin_alone(admin_user, make_user):
    erased = make_user()
    contributor_services.user_erase(user=erased)
    changed = contributor_services.user_set_blocked(
        user_ids=[erased.pk, admin_user.pk], blocked=True, by=admin_user
    )
    assert changed == []
    admin_user.refresh_from_db()
    erased.refresh_from_db()
    assert admin_user.is_active
    assert erased.is_erased and not erased.is_blocked


def test_a_blocked_contributor_can_no_longer_use_the_api(api_client, make_user):
    from rest_framework_simplejwt.tokens import RefreshToken

    user = make_user()
    refresh = RefreshToken.for_user(user)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {refresh.access_token}"}
    assert api_client.get("/api/me/", **headers).status_code == 200
    contributor_services.user_set_blocked(user_ids=[user.pk], blocked=True)
    assert api_client.get("/api/me/", **headers).status_code == 401
    refreshed = api_client.post("/api/auth/token/refresh/", {"refresh": str(refresh)})
    assert refreshed.status_code == 401
    assert "detail" in refreshed.json()


# --- What the review pages say ------------------------------------------------------


def test_a_chunk_page_says_how_often_its_readers_chunks_say_their_sentence(
    reviewer_client, make_user, two_at_most
):
    chunk, _ = in_review(make_user)
    Chunk.objects.filter(pk=chunk.pk).update(expected_text="the kettle began to whistle")
    page = reviewer_client.get(f"{QUEUE}{chunk.pk}/change/").content.decode()
    assert "reading: 90% (weight 2.20, newcomer)" in page  # a new reader: the script prior
    ReliabilityScore.objects.create(
        user=chunk.contributor, language="bn", alpha=14, beta=6, read_alpha=95, read_beta=5,
        readings=80,
    )  # fmt: skip
    page = reviewer_client.get(f"{QUEUE}{chunk.pk}/change/").content.decode()
    assert "reading: 95% (weight 2.94)" in page


def test_chunks_are_named_by_script_and_sentence(reviewer_client, make_user, two_at_most):
    chunk, _ = in_review(make_user)
    Chunk.objects.filter(pk=chunk.pk).update(expected_sentence_index=2)
    page = reviewer_client.get(QUEUE).content.decode()
    assert f"Script {chunk.recording.script_id}, sentence 3" in page
    assert str(chunk.recording_id) not in page.split("<tbody>")[1]
    change = reviewer_client.get(f"{QUEUE}{chunk.pk}/change/").content.decode()
    assert f"Script {chunk.recording.script_id}, sentence 3" in change


def test_the_page_says_why_a_person_is_needed_and_when(reviewer_client, make_user, two_at_most):
    chunk, _ = in_review(make_user)
    decision = ConsensusDecision.objects.get(chunk=chunk)
    page = reviewer_client.get(f"{QUEUE}{chunk.pk}/change/").content.decode()
    assert decision.reason not in page  # the engine's shorthand, said plainly instead
    assert "why a person is needed" in page.lower()
    assert "wrong words are expected" in page or "a person must" in page, decision.reason
    # Decision times to the minute, never with seconds' fractions.
    assert not re.search(r"\d\d:\d\d:\d\d\.\d+", page)
    assert "Needs review" in page and "Consensus engine" in page


def test_accept_goes_on_to_the_next_chunk_where_a_review_fixes_most(
    reviewer_client, make_user, two_at_most
):
    first, second, third = (in_review(make_user)[0] for _ in range(3))
    for chunk, gain in ((first, 3.0), (second, 2.0), (third, 1.0)):
        Chunk.objects.filter(pk=chunk.pk).update(review_gain=gain)
    (other_language,) = make_chunks(1, language=LanguageFactory(code="en", name="English"))
    Chunk.objects.filter(pk=other_language.pk).update(
        status=ChunkStatus.NEEDS_REVIEW, review_gain=2.5
    )
    # The reviewer works the Bangla queue: the list's filters travel with the form.
    filters = urlencode({"_changelist_filters": f"language__id__exact={first.language_id}"})
    response = reviewer_client.post(
        f"{QUEUE}{first.pk}/change/?{filters}",
        {"_review_accept": "1", "_proposal": first.consensus_text},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{QUEUE}{second.pk}/change/?{filters}"
    response = reviewer_client.post(
        f"{QUEUE}{second.pk}/change/?{filters}", {"_review_reject": "1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"{QUEUE}{third.pk}/change/?{filters}"
    assert "rejected" in response.content.decode()
    # Without filters the whole queue is next: the other language's chunk first.
    response = reviewer_client.post(
        f"{QUEUE}{third.pk}/change/", {"_review_accept": "1", "_proposal": third.consensus_text}
    )
    assert response["Location"] == f"{QUEUE}{other_language.pk}/change/"
    response = reviewer_client.post(
        f"{QUEUE}{other_language.pk}/change/", {"_review_reject": "1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == QUEUE
    assert "Nothing more waits in this queue" in response.content.decode()
