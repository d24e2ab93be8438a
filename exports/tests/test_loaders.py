"""Every format is read by the loader researchers use, and agrees with stats.json."""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest
import soundfile as sf

from exports.tests.conftest import download
from recordings.models import Chunk

ALL = ["commonvoice", "huggingface", "nemo", "kaldi", "lhotse", "webdataset"]


# pytest-django creates the test database only for a session that holds a test
# marked for it; without the mark, this module run alone built its export in
# the development database.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def built(django_db_setup, django_db_blocker, tmp_path_factory):
    """One export in every format, built once and downloaded for all loader tests.

    Built outside the per-test transaction (loading six formats from one
    export is the point, and building it six times would dominate the suite),
    so the rows are deleted again at the end.
    """
    from contributors.models import User
    from contributors.tests.factories import UserFactory
    from exports import services
    from exports.models import Export, SpeakerSplit
    from exports.tests.conftest import create_corpus
    from recordings.models import Language, Recording, Script

    with django_db_blocker.unblock():
        had_language = Language.objects.filter(code="bn").exists()
        people = create_corpus()
        researcher = UserFactory(roles=["researcher"])
        export = services.export_create(requester=researcher, formats=ALL)
        services.export_build(export_id=export.id)
        export.refresh_from_db()
        texts = sorted(Chunk.objects.values_list("consensus_text", flat=True))
    try:
        assert export.status == "done", export.error
        yield export, download(export, tmp_path_factory.mktemp("export")), texts
    finally:
        with django_db_blocker.unblock():
            Export.objects.filter(pk=export.pk).delete()
            SpeakerSplit.objects.all().delete()
            recordings = Recording.objects.filter(contributor__in=people)
            scripts = list(recordings.values_list("script_id", flat=True))
            Chunk.objects.filter(recording__in=recordings).delete()
            recordings.delete()
            Script.objects.filter(pk__in=scripts).delete()
            User.objects.filter(pk__in=[p.pk for p in [*people, researcher]]).delete()
            if not had_language:
                Language.objects.filter(code="bn").delete()


def assert_matches_stats(built, per_split: dict[str, list[tuple[str, float]]]) -> None:
    """per_split: split → [(text, seconds)] as the loader saw them."""
    export, _, expected = built
    stats = export.stats["splits"]
    for split, rows in per_split.items():
        assert len(rows) == stats[split]["clips"], split
        assert sum(s for _, s in rows) == pytest.approx(stats[split]["seconds"], abs=1e-3)
    texts = sorted(t for rows in per_split.values() for t, _ in rows)
    assert texts == expected
    assert sum(len(r) for r in per_split.values()) == export.stats["totals"]["clips"]


def test_huggingface_parquet_loads_with_datasets(built, tmp_path):
    import datasets

    _, root, _ = built
    files = {s: str(root / "data" / f"{s}-*.parquet") for s in ("train", "dev", "test")}
    ds = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    seen = {}
    for split in ("train", "dev", "test"):
        # The schema a researcher sees: Audio at 16 kHz, straight from the parquet.
        assert ds[split].features["audio"] == datasets.Audio(sampling_rate=16000)
        # datasets >= 4 decodes through torchcodec; decode the same bytes with
        # soundfile instead (datasets.md, loader notes).
        raw = ds[split].cast_column("audio", datasets.Audio(sampling_rate=16000, decode=False))
        rows = []
        for row in raw:
            samples, rate = sf.read(io.BytesIO(row["audio"]["bytes"]))
            assert rate == 16000
            assert len(samples) / rate == pytest.approx(row["duration"], abs=1e-6)
            rows.append((row["text"], len(samples) / rate))
        seen[split] = rows
    assert_matches_stats(built, seen)

    # The dataset card's `configs` make the export root loadable as it is.
    card = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "hf2"))
    assert {s: len(card[s]) for s in card} == {s: len(r) for s, r in seen.items()}
    assert card["train"].features["audio"].sampling_rate == 16000


def test_dataset_card_reads_cleanly_with_the_hub_and_datasets_parsers(built, caplog):
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    export, root, _ = built
    card = DatasetCard.load(root / "README.md")
    with caplog.at_level(logging.WARNING):
        infos = DatasetInfosDict.from_dataset_card_data(card.data)
        configs = MetadataConfigs.from_dataset_card_data(card.data)
    # datasets ignores a card's splits it finds malformed, with only a warning.
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("datasets")]
    stats = export.stats["splits"]
    splits = infos["default"].splits
    assert {name: split.num_examples for name, split in splits.items()} == {
        name: figures["clips"] for name, figures in stats.items()
    }
    assert all(split.num_bytes > 0 for split in splits.values())
    assert infos["default"].features["audio"].sampling_rate == 16000
    assert {entry["split"] for entry in configs["default"]["data_files"]} == set(stats)


def test_lhotse_manifests_load_and_play(built, tmp_path, monkeypatch):
    from lhotse import CutSet, load_manifest

    _, root, _ = built
    monkeypatch.chdir(root)  # sources are relative to the export root
    seen = {}
    for split in ("train", "dev", "test"):
        recordings = load_manifest(f"recordings_{split}.jsonl.gz")
        supervisions = load_manifest(f"supervisions_{split}.jsonl.gz")
        cuts = CutSet.from_manifests(recordings=recordings, supervisions=supervisions)
        rows = []
        for cut in cuts:
            audio = cut.load_audio()
            assert audio.shape[1] == cut.num_samples
            rows.append((cut.supervisions[0].text, cut.duration))
        seen[split] = rows
    assert_matches_stats(built, seen)


def test_kaldi_data_dirs_load_with_lhotse(built, tmp_path, monkeypatch):
    from lhotse.kaldi import load_kaldi_data_dir

    _, root, _ = built
    monkeypatch.chdir(root)
    seen = {}
    for split in ("train", "dev", "test"):
        folder = root / "kaldi" / split
        for name in ("wav.scp", "text", "utt2spk", "spk2utt", "utt2dur", "spk2gender"):
            lines = (folder / name).read_bytes().splitlines()
            keys = [line.split(b" ", 1)[0] for line in lines]
            assert keys == sorted(keys) and len(set(keys)) == len(keys), name  # C-sorted
        for line in (folder / "utt2spk").read_text().splitlines():
            utt, spk = line.split()
            assert utt.startswith(spk + "-")
        recordings, supervisions, _ = load_kaldi_data_dir(folder, sampling_rate=16000)
        rows = []
        for sup in supervisions:
            samples = recordings[sup.recording_id].load_audio()
            assert samples.shape[1] / 16000 == pytest.approx(sup.duration, abs=1e-3)
            assert sup.gender in {"m", "f", "u"}
            rows.append((sup.text, sup.duration))
        seen[split] = rows
    assert_matches_stats(built, seen)


def test_webdataset_shards_load(built, tmp_path):
    import webdataset as wds

    _, root, _ = built
    seen = {}
    for split in ("train", "dev", "test"):
        urls = sorted(str(p) for p in root.glob(f"{split}-*.tar"))
        rows = []
        for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
            meta = json.loads(sample["json"])
            samples, rate = sf.read(io.BytesIO(sample["flac"]))
            assert rate == meta["sampling_rate"] == 16000
            rows.append((meta["text"], len(samples) / rate))
        seen[split] = rows
    assert_matches_stats(built, seen)


def test_nemo_manifests_have_durations_of_the_audio(built):
    _, root, _ = built
    seen = {}
    for split in ("train", "dev", "test"):
        manifest = root / f"{split}_manifest.json"
        rows = []
        for line in manifest.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            info = sf.info(manifest.parent / entry["audio_filepath"])
            assert entry["duration"] == pytest.approx(info.frames / info.samplerate, abs=1e-6)
            assert entry["lang"] == "bn" and len(entry["speaker"]) == 32
            rows.append((entry["text"], entry["duration"]))
        seen[split] = rows
    assert_matches_stats(built, seen)


def test_common_voice_tsvs_load_with_pandas(built):
    import pandas as pd

    from exports.formats.commonvoice import COLUMNS

    export, root, _ = built

    def read(name):
        return pd.read_csv(
            root / name, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False
        )

    durations = read("clip_durations.tsv").set_index("clip")["duration[ms]"].astype(int)
    seen = {}
    for split in ("train", "dev", "test"):
        frame = read(f"{split}.tsv")
        assert tuple(frame.columns) == COLUMNS
        rows = []
        for row in frame.itertuples(index=False):
            assert (root / "clips" / row.path).is_file()
            assert row.locale == "bn"
            rows.append((row.sentence, durations[row.path] / 1000))
        seen[split] = rows
    validated = read("validated.tsv")
    assert len(validated) == export.stats["totals"]["clips"]
    for split, rows in seen.items():
        # clip_durations.tsv is in whole milliseconds.
        assert len(rows) == export.stats["splits"][split]["clips"]
        total = sum(s for _, s in rows)
        expected = export.stats["splits"][split]["seconds"]
        assert total == pytest.approx(expected, abs=1e-3 * len(rows))
    assert sorted(t for r in seen.values() for t, _ in r) == built[2]


def test_sha256sums_cover_every_file(built):
    import hashlib

    export, root, _ = built
    listed = {}
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split("  ", 1)
        listed[path] = digest
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != "SHA256SUMS"
    }
    assert set(listed) == on_disk
    for path, digest in listed.items():
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest
    api_files = {f["path"]: f for f in export.files}
    assert api_files["README.md"]["sha256"] == listed["README.md"]
    assert "SHA256SUMS" in api_files
    assert "Shrutik speech dataset" in (root / "README.md").read_text(encoding="utf-8")
