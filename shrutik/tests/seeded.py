"""A small populated platform for API-wide tests: every object endpoint has real rows.

Two contributors with recordings and chunks, a reviewer, two researchers with
their own exports, a transcription and a live lease, so that fuzzing and the
authorisation matrix reach real objects (and other people's objects), not only
404s for ids that do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from contributors.models import User
from exports.models import Export, ExportStatus
from recordings.models import Chunk, Recording
from recordings.tests.factories import LanguageFactory, UserFactory, make_chunks
from transcriptions.models import TaskLease, Transcription

SENTENCE = "আমি দুধ দিয়ে চা খাই।"


@dataclass
class World:
    owner: User  # a contributor who owns ``recording`` and ``chunks``
    other: User  # another contributor, owner of ``other_recording``
    reviewer: User
    researcher: User  # requester of ``export``
    other_researcher: User  # requester of ``other_export``
    recording: Recording
    chunks: list[Chunk]
    other_recording: Recording
    other_chunks: list[Chunk]
    transcription: Transcription  # by ``owner`` on one of ``other_chunks``
    lease: TaskLease  # ``owner`` holds a lease on ``other_chunks[1]``
    export: Export  # done, with an (empty) archive
    other_export: Export

    def user(self, actor: str) -> User | None:
        return None if actor == "anonymous" else getattr(self, actor)


def bearer(user: User | None) -> dict[str, str]:
    """The Authorization header a signed-in API client sends."""
    if user is None:
        return {}
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def seed_world() -> World:
    language = LanguageFactory()
    owner, other = UserFactory(), UserFactory()
    reviewer = UserFactory(roles=["contributor", "reviewer"])
    researcher = UserFactory(roles=["contributor", "researcher"])
    other_researcher = UserFactory(roles=["contributor", "researcher"])
    chunks = make_chunks(3, contributor=owner, language=language, expected_text=SENTENCE)
    other_chunks = make_chunks(3, contributor=other, language=language, expected_text=SENTENCE)
    for chunk_list in (chunks, other_chunks):
        recording = chunk_list[0].recording
        recording.audio.name = f"recordings/{recording.id}/original.webm"
        recording.save(update_fields=["audio"])
    transcription = Transcription.objects.create(
        chunk=other_chunks[0], user=owner, text="আমি দুধ দিয়ে চা খাই", normalized_text=""
    )
    # A chunk with its sentence is leased for a vote (mode auto serves it so);
    # typed text is accepted on it too.
    lease = TaskLease.objects.create(
        chunk=other_chunks[1],
        user=owner,
        mode="verify",
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    export = Export.objects.create(
        requester=researcher,
        version="v1",
        formats=["nemo"],
        status=ExportStatus.DONE,
        prefix="exports/seeded/",
        files=[{"path": "README.md", "size": 0, "sha256": "0" * 64}],
        finished_at=timezone.now(),
    )
    other_export = Export.objects.create(
        requester=other_researcher, version="v1", formats=["nemo"], prefix="exports/other/"
    )
    return World(
        owner=owner,
        other=other,
        reviewer=reviewer,
        researcher=researcher,
        other_researcher=other_researcher,
        recording=chunks[0].recording,
        chunks=chunks,
        other_recording=other_chunks[0].recording,
        other_chunks=other_chunks,
        transcription=transcription,
        lease=lease,
        export=export,
        other_export=other_export,
    )
