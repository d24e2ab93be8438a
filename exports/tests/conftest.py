from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf

# The loaders must read local files only; never reach for the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

SENTENCES = [
    "আমি দুধ দিয়ে চা খাই।",
    "আজ আকাশ পরিষ্কার।",
    "বইটা টেবিলের উপর রাখো।",
    "আমরা কাল নদীর ধারে যাব।",
    "তোমার নাম কী?",
    "সে প্রতিদিন সকালে হাঁটে।",
]


def flac_bytes(seconds: float, *, freq: float = 220.0, rate: int = 16000) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    y = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    out = io.BytesIO()
    sf.write(out, y, rate, format="FLAC", subtype="PCM_16")
    return out.getvalue()


_counter = {"n": 0}


def create_clips(
    n: int,
    *,
    speaker,
    language=None,
    status: str = "validated",
    confidence: float = 0.95,
    texts: list[str] | None = None,
    seconds: float | None = None,
):
    """Chunks of one new recording by ``speaker``, with real FLAC audio in storage."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from recordings.tests.factories import LanguageFactory, make_chunks

    language = language or LanguageFactory()
    chunks = make_chunks(n, contributor=speaker, language=language)
    pool = texts or SENTENCES
    for i, chunk in enumerate(chunks):
        _counter["n"] += 1
        length = seconds or round(0.6 + 0.1 * (_counter["n"] % 7), 2)
        key = chunk.audio.name
        if default_storage.exists(key):
            default_storage.delete(key)
        default_storage.save(key, ContentFile(flac_bytes(length, freq=200 + 10 * i)))
        chunk.duration = length
        chunk.end = chunk.start + length
        chunk.status = status
        chunk.confidence = confidence
        chunk.consensus_text = pool[(_counter["n"] + i) % len(pool)]
        chunk.save()
    return chunks


def create_corpus() -> list:
    """Eight speakers (mixed demographics), four clips each, all validated."""
    from contributors.tests.factories import UserFactory

    people = []
    for k in range(8):
        user = UserFactory(
            gender=["female", "male", "other", ""][k % 4],
            age_range=["twenties", "thirties"][k % 2],
            dialect=["Dhaka", "Sylhet"][k % 2],
        )
        create_clips(4, speaker=user)
        people.append(user)
    return people


@pytest.fixture
def make_clips(db, make_user):
    """``make_clips(3, speaker=user)``: chunks with real FLAC audio in storage."""

    def make(n: int, *, speaker=None, **kwargs):
        speaker = speaker or make_user(gender="female", age_range="twenties")
        return create_clips(n, speaker=speaker, **kwargs)

    return make


@pytest.fixture
def eager():
    """Celery tasks run in this process (and transaction) as soon as they are queued."""
    from shrutik.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def researcher_client(api_client, researcher):
    """An API client signed in as a researcher (``.user``)."""
    api_client.force_authenticate(researcher)
    api_client.user = researcher
    return api_client


@pytest.fixture
def corpus(db):
    return create_corpus()


@pytest.fixture
def build(researcher):
    """Request and build an export in this process; returns the refreshed row."""
    from exports import services

    def run(formats, **kwargs):
        export = services.export_create(requester=researcher, formats=formats, **kwargs)
        services.export_build(export_id=export.id)
        export.refresh_from_db()
        assert export.status == "done", export.error
        return export

    return run


def download(export, dest):
    """Copy every object under the export's prefix to ``dest`` (as a researcher would)."""
    from django.core.files.storage import default_storage

    from exports.uploads import iter_prefix

    for path, _ in iter_prefix(export.prefix):
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(export.prefix + path, "rb") as fh:
            target.write_bytes(fh.read())
    return dest
