"""Metadata-only exports, and delta exports: what changed since an earlier export."""

from __future__ import annotations

import csv
import gzip
import json
import tarfile

import pytest
from django.core.files.storage import default_storage

from contributors.services import user_withdraw_consent
from exports import services
from exports.membership import Entry
from exports.tests.conftest import create_clips, download
from recordings.models import Chunk

pytestmark = pytest.mark.django_db

URL = "/api/exports/"
ALL = ["commonvoice", "huggingface", "nemo", "kaldi", "lhotse", "webdataset"]


def index_of(export) -> list[Entry]:
    with default_storage.open(export.index_key, "rb") as fh, gzip.open(fh, "rt") as lines:
        return [Entry.parse(line) for line in lines]


def nemo_rows(root) -> dict[str, dict]:
    rows = {}
    for split in ("train", "dev", "test"):
        for line in (root / f"{split}_manifest.json").read_text().splitlines():
            entry = json.loads(line)
            rows[entry["audio_filepath"].split("/")[-1].rsplit(".", 1)[0]] = {
                **entry,
                "split": split,
            }
    return rows


def removed_ids(root) -> list[str]:
    with open(root / "removed.tsv", encoding="utf-8") as fh:
        return sorted(row["id"] for row in csv.DictReader(fh, delimiter="\t"))


def test_every_export_stores_its_membership_in_clip_order(corpus, build):
    export = build(["nemo"])
    assert export.indexed
    entries = index_of(export)
    assert len(entries) == export.stats["totals"]["clips"] == 32
    assert [e.clip for e in entries] == sorted(e.clip for e in entries)
    assert {e.clip for e in entries} == {c.id.hex for c in Chunk.objects.all()}
    # Not part of the download: outside the export's own folder.
    assert not export.index_key.startswith(export.prefix)
    assert "removed.tsv" not in {f["path"] for f in export.files}


def test_a_delta_holds_what_was_added_or_changed_and_lists_what_was_removed(
    corpus, build, make_user, tmp_path
):
    base = build(["nemo", "commonvoice"])
    before = nemo_rows(download(base, tmp_path / "base"))

    added = create_clips(2, speaker=corpus[0]) + create_clips(3, speaker=make_user())
    chunks = list(Chunk.objects.filter(contributor__in=corpus[1:7]).order_by("pk"))
    corrected, rejected = chunks[0], chunks[1]
    # Queryset updates leave updated_at alone, like a re-score does: the delta
    # finds them by what the export says, not by timestamps.
    Chunk.objects.filter(pk=corrected.pk).update(consensus_text="a corrected text")
    Chunk.objects.filter(pk=rejected.pk).update(status="rejected")
    withdrawn = corpus[7]
    user_withdraw_consent(user=withdrawn)

    delta = build(["nemo", "commonvoice"], since=base)
    figures = delta.stats["delta"]
    gone = 1 + Chunk.objects.filter(contributor=withdrawn).exclude(pk=rejected.pk).count()
    assert (figures["added"], figures["changed"], figures["removed"]) == (5, 1, gone)
    assert figures["unchanged"] == 32 - 1 - gone
    assert (figures["since"], figures["since_version"]) == (str(base.id), base.version)

    root = download(delta, tmp_path / "delta")
    rows = nemo_rows(root)
    assert {key.split("-")[1] for key in rows} == {c.id.hex for c in [*added, corrected]}
    assert rows[next(k for k in rows if corrected.id.hex in k)]["text"] == "a corrected text"
    assert delta.stats["totals"]["clips"] == 6
    # Every speaker of both exports is in the split it had.
    for key, row in rows.items():
        if key in before:
            assert before[key]["split"] == row["split"]
    removed = removed_ids(root)
    assert len(removed) == gone
    assert next(k for k in before if rejected.id.hex in k) in removed
    assert "removed.tsv" in {f["path"] for f in delta.files}
    readme = (root / "README.md").read_text()
    assert "## Changes since an earlier export" in readme and base.version in readme
    # The delta's own index is the whole membership: a delta can follow it.
    assert len(index_of(delta)) == 32 - gone + 5

    nothing = services.export_create(requester=delta.requester, formats=["nemo"], since=delta)
    services.export_build(export_id=nothing.id)
    nothing.refresh_from_db()
    assert nothing.status == "failed" and "Nothing changed" in nothing.error


def test_a_delta_that_only_removes_still_says_so(corpus, build, tmp_path):
    base = build(["huggingface"])
    chunk = Chunk.objects.order_by("pk").first()
    Chunk.objects.filter(pk=chunk.pk).update(status="rejected")
    delta = build(["huggingface"], since=base)
    assert delta.stats["totals"]["clips"] == 0
    assert delta.stats["delta"]["removed"] == 1
    root = download(delta, tmp_path / "x")
    assert len(removed_ids(root)) == 1 and chunk.id.hex in removed_ids(root)[0]


def test_a_delta_keeps_the_filters_and_splits_of_its_base(researcher_client, corpus, build):
    base = build(["nemo"], split={"seed": 5, "ratios": {"train": 0.5, "test": 0.5}},
                 filters={"genders": ["female"], "statuses": ["validated"]})  # fmt: skip
    body = {"formats": ["nemo"], "since": str(base.id)}
    response = researcher_client.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    delta = base.__class__.objects.get(pk=response.json()["id"])
    assert delta.since == base and delta.split_spec == base.split_spec
    assert delta.filters == base.filters
    # The same split may be given; another one is refused.
    same = {"seed": 5, "ratios": {"train": 0.5, "test": 0.5}}
    assert researcher_client.post(URL, {**body, "split": same}, format="json").status_code == 202
    other = researcher_client.post(URL, {**body, "split": {"seed": 6}}, format="json")
    assert other.status_code == 400 and "keeps the splits" in other.json()["detail"]
    # The preview of a delta counts what its base's filters match now.
    counted = researcher_client.post(f"{URL}preview/", body, format="json").json()
    female = Chunk.objects.filter(contributor__gender="female", status="validated").count()
    assert counted["clips"] == female


def test_a_delta_follows_only_a_finished_indexed_export_of_yours(
    researcher_client, researcher, make_user, corpus, build
):
    from exports.models import Export

    theirs = services.export_create(requester=make_user(roles=["researcher"]), formats=["nemo"])
    mine_queued = services.export_create(requester=researcher, formats=["nemo"])
    old = build(["nemo"])
    Export.objects.filter(pk=old.pk).update(indexed=False)  # made before deltas existed
    for base, fragment in ((theirs, "not one of your exports"), (mine_queued, "not finished"),
                           (old, "before delta exports existed")):  # fmt: skip
        body = {"formats": ["nemo"], "since": str(base.id)}
        response = researcher_client.post(URL, body, format="json")
        assert response.status_code == 400 and fragment in response.json()["detail"], base


def test_a_metadata_only_export_has_every_manifest_and_no_audio(corpus, build, tmp_path):
    export = build(ALL, audio=False)
    root = download(export, tmp_path / "x")
    assert not (root / "clips").exists()
    assert export.stats["export"]["audio"] is False
    assert export.stats["totals"]["clips"] == 32
    durations = {c.id.hex: c.duration for c in Chunk.objects.all()}
    for key, row in nemo_rows(root).items():
        assert row["duration"] == pytest.approx(durations[key.split("-")[1]], abs=1e-3)
    # Hugging Face: the same columns without the audio, readable by datasets.
    import datasets

    ds = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "hf"))
    assert "audio" not in ds["train"].features
    assert sum(len(ds[s]) for s in ds) == 32
    # WebDataset: metadata members only.
    with tarfile.open(root / "train-000000.tar") as tar:
        assert {name.rsplit(".", 1)[1] for name in tar.getnames()} == {"json"}
    readme = (root / "README.md").read_text()
    assert "metadata-only export" in readme
    assert "audio:" not in readme.split("---")[1]  # the card declares no Audio feature


def test_a_metadata_only_export_cannot_ask_for_processing(researcher_client):
    body = {"formats": ["nemo"], "audio": False, "processing": {"channels": 1}}
    response = researcher_client.post(URL, body, format="json")
    assert response.status_code == 400 and "no audio to process" in response.json()["detail"]


def test_a_processed_delta_writes_only_the_changed_clips(
    corpus, build, make_user, tmp_path, eager, settings
):
    settings.EXPORT_BATCH_SIZE = 5  # several batches, each reading the delta's clip list
    base = build(["nemo"])
    create_clips(2, speaker=make_user())
    delta = build(["nemo"], since=base, processing={"channels": 1, "seed": 0})
    assert delta.stats["delta"]["added"] == 2
    assert delta.stats["totals"]["clips"] == 2
    assert len(nemo_rows(download(delta, tmp_path / "x"))) == 2
