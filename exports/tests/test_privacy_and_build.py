"""Who is exported (and who never is), pseudonyms, determinism, restarts, failures."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from contributors.services import user_erase, user_withdraw_consent
from exports import services
from exports.models import Export, SpeakerSplit
from exports.pseudonyms import speaker_pseudonym
from exports.services import lifecycle
from exports.tests.conftest import download
from shrutik.tests.broker import queue_length, take_newest

pytestmark = pytest.mark.django_db

ALL = ["commonvoice", "huggingface", "nemo", "kaldi", "lhotse", "webdataset"]


def every_byte(root) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_no_user_id_username_or_email_in_any_file(corpus, build, tmp_path):
    export = build(ALL)
    blob = every_byte(download(export, tmp_path / "x"))
    for user in corpus:
        assert user.email.encode() not in blob
        assert user.username.encode() not in blob
        assert user.speaker_id.encode() not in blob  # the internal pseudonym stays inside
        assert speaker_pseudonym(user.speaker_id).encode() in blob
    # Numeric user ids: no utterance, speaker or clip id is built from them.
    assert f'"speaker": "{corpus[0].pk}"'.encode() not in blob


def test_speaker_ids_are_keyed_hashes_stable_across_exports(corpus, build):
    with override_settings(EXPORT_SPEAKER_KEY="k1"):
        one = speaker_pseudonym(corpus[0].speaker_id)
        assert one == speaker_pseudonym(corpus[0].speaker_id)
        expected = hmac.new(b"k1", corpus[0].speaker_id.encode(), hashlib.sha256).hexdigest()
        assert one == expected[:32]
    with override_settings(EXPORT_SPEAKER_KEY="k2"):
        assert speaker_pseudonym(corpus[0].speaker_id) != one


def test_erased_and_withdrawn_contributors_are_never_exported(corpus, build, tmp_path):
    user_erase(user=corpus[0])
    user_withdraw_consent(user=corpus[1])
    gone = {speaker_pseudonym(u.speaker_id) for u in corpus[:2]}
    export = build(ALL)
    assert export.stats["totals"]["speakers"] == 6
    assert export.stats["totals"]["clips"] == 24
    blob = every_byte(download(export, tmp_path / "x"))
    assert all(p.encode() not in blob for p in gone)


def test_splits_are_speaker_disjoint_and_deterministic(corpus, build, tmp_path):
    first = build(["nemo"], split={"seed": 3})
    second = build(["nemo"], split={"seed": 3})

    def speakers_by_split(export, dest):
        import json

        root = download(export, dest)
        result = {}
        for split in ("train", "dev", "test"):
            lines = (root / f"{split}_manifest.json").read_text().splitlines()
            result[split] = {json.loads(line)["speaker"] for line in lines}
        return result, (root / "train_manifest.json").read_bytes()

    a, a_train = speakers_by_split(first, tmp_path / "a")
    b, b_train = speakers_by_split(second, tmp_path / "b")
    assert not (a["train"] & a["dev"]) and not (a["train"] & a["test"])
    assert not (a["dev"] & a["test"])
    assert all(a[s] for s in a)  # eight speakers fill all three splits
    assert a == b and a_train == b_train


def test_a_re_export_with_more_data_keeps_old_speakers_split(corpus, build, make_clips, make_user):
    first = build(["nemo"], split={"seed": 9})
    lineage = SpeakerSplit.objects.values_list("lineage", flat=True).first()
    before = dict(SpeakerSplit.objects.filter(lineage=lineage).values_list("speaker", "split"))
    for _ in range(6):
        make_clips(3, speaker=make_user(gender="female"))
    second = build(["nemo"], split={"seed": 9})
    after = dict(SpeakerSplit.objects.filter(lineage=lineage).values_list("speaker", "split"))
    assert {s: after[s] for s in before} == before
    assert second.stats["totals"]["speakers"] == first.stats["totals"]["speakers"] + 6


def test_sentence_disjoint_export_drops_only_conflicting_clips(make_clips, make_user, build):
    for k in range(10):
        make_clips(3, speaker=make_user(), texts=["একই বাক্য।", f"বাক্য {k}।", f"আরেক {k}।"])
    export = build(["nemo"], split={"sentence_disjoint": True, "seed": 1})
    stats = export.stats
    kept = stats["totals"]["clips"]
    assert kept + stats["dropped"]["clips"] == 30
    # The shared sentence lives in one split only; the unique ones all survive.
    assert stats["dropped"]["clips"] <= 9


def test_demographics_are_suppressed_below_five_speakers(make_clips, make_user, build):
    for _ in range(4):
        make_clips(2, speaker=make_user(gender="female"))
    export = build(["nemo"])
    assert export.stats["languages"]["bn"]["demographics"] is None
    assert "withheld" in default_storage.open(export.prefix + "README.md").read().decode()


def test_demographic_tables_and_thresholds_in_the_datasheet(corpus, build):
    export = build(["huggingface"])
    readme = default_storage.open(export.prefix + "README.md").read().decode()
    # The card's licence in the Hub's id, and the same licence stated for people.
    assert readme.startswith("---\nlicense: cc-by-4.0\ndataset_info:")
    assert "Gender (speakers)" in readme and "| female | 2 |" in readme
    assert "margin" in readme and "(`CC-BY-4.0`)" in readme
    assert "[Creative Commons Attribution 4.0 International]" in readme
    assert "(https://creativecommons.org/licenses/by/4.0/)" in readme
    assert "contributor agreement" in readme
    demo = export.stats["languages"]["bn"]["demographics"]
    assert demo["gender"] == {"": 2, "female": 2, "male": 2, "other": 2}


def test_an_export_with_nothing_to_export_fails_saying_why(researcher, db):
    export = services.export_create(requester=researcher, formats=["nemo"])
    services.export_build(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "failed"
    assert "No clips match" in export.error


def test_missing_audio_is_reported_not_fatal(corpus, build):
    from recordings.models import Chunk

    default_storage.delete(Chunk.objects.first().audio.name)
    export = build(["nemo"])
    assert export.stats["dropped"]["reasons"] == {"audio missing from storage": 1}
    assert export.stats["totals"]["clips"] == 31


def test_a_crashed_attempt_is_restarted_cleanly(corpus, researcher):
    export = services.export_create(requester=researcher, formats=["nemo"])
    # Attempt 1 "crashed" mid-way: status running, a stale object left behind.
    Export.objects.filter(pk=export.pk).update(status="running", attempts=1)
    stale = export.prefix + "clips/stale.flac"
    default_storage.save(stale, __import__("io").BytesIO(b"x"))
    services.export_build(export_id=export.id)  # the redelivered message
    export.refresh_from_db()
    assert export.status == "done" and export.attempts == 2
    assert not default_storage.exists(stale)


def test_the_sweeper_restarts_exports_that_stopped_making_progress(
    corpus, researcher, settings, tmp_path
):
    from datetime import timedelta

    from django.utils import timezone

    stalled = services.export_create(requester=researcher, formats=["nemo"])
    fresh = services.export_create(requester=researcher, formats=["nemo"])
    old = timezone.now() - timedelta(seconds=settings.EXPORT_STALL_SECONDS + 60)
    # A worker killed mid-way: running, its last progress long ago, its message
    # held by the dead consumer until the broker's visibility timeout.
    Export.objects.filter(pk=stalled.pk).update(status="running", attempts=1, updated_at=old)
    Export.objects.filter(pk=fresh.pk).update(status="running", attempts=1)
    before = queue_length("exports")
    assert services.export_sweep() == 1
    assert queue_length("exports") == before + 1
    assert take_newest("exports") == ("exports.build", [str(stalled.id)], {})
    assert services.export_sweep() == 0  # touched: the new attempt gets a full period

    services.export_build(export_id=stalled.id)  # what the worker does with the message
    stalled.refresh_from_db()
    assert stalled.status == "done" and stalled.attempts == 2
    root = download(stalled, tmp_path)
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split("  ", 1)
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest


def test_too_many_attempts_fail_the_export(researcher, db):
    export = services.export_create(requester=researcher, formats=["nemo"])
    Export.objects.filter(pk=export.pk).update(status="running", attempts=3)
    services.export_build(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "failed" and "interrupted 3 times" in export.error


def test_a_superseded_attempt_stops_without_finishing(corpus, researcher, monkeypatch):
    export = services.export_create(requester=researcher, formats=["nemo"])
    real = lifecycle.progress

    def steal(export_id, token, **fields):
        Export.objects.filter(pk=export_id).update(run_token=None)  # a newer attempt
        return real(export_id, token, **fields)

    monkeypatch.setattr(lifecycle, "progress", steal)
    services.export_build(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "running"  # left to the attempt that owns it


def test_done_exports_are_not_rebuilt(corpus, build):
    export = build(["nemo"])
    services.export_build(export_id=export.id)
    export.refresh_from_db()
    assert export.attempts == 1


def test_transcoding_to_wav_at_8k(corpus, build, tmp_path):
    import json

    import soundfile as sf

    export = build(["nemo"], audio_format="wav", sample_rate=8000)
    root = download(export, tmp_path / "x")
    entry = json.loads((root / "train_manifest.json").read_text().splitlines()[0])
    info = sf.info(root / entry["audio_filepath"])
    assert info.format == "WAV" and info.samplerate == 8000
    assert info.frames / 8000 == pytest.approx(entry["duration"], abs=1e-6)


def test_unreadable_audio_is_counted_and_left_out(corpus, build):
    import io

    from recordings.models import Chunk

    key = Chunk.objects.first().audio.name
    default_storage.delete(key)
    default_storage.save(key, io.BytesIO(b"not audio at all"))
    export = build(["nemo"])
    assert export.stats["dropped"]["reasons"] == {"audio unreadable": 1}


def test_a_failing_build_says_why_and_leaves_no_objects(corpus, researcher, monkeypatch):
    from exports import datasheet
    from exports.uploads import iter_prefix

    def broken(**kwargs):
        raise RuntimeError("datasheet template exploded")

    monkeypatch.setattr(datasheet, "render", broken)
    export = services.export_create(requester=researcher, formats=["nemo"])
    with pytest.raises(RuntimeError):
        services.export_build(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "failed"
    assert "datasheet template exploded" in export.error
    assert list(iter_prefix(export.prefix)) == []
