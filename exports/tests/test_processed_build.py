"""Processed exports: options in the API, audio measured in the built export, every
format marking augmented copies, and byte-identical rebuilds.

Batches and the final step run through Celery in eager mode here (the same
tasks a worker runs); test_processed_worker.py runs them in real workers.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from exports.tests.conftest import download

RATE = 16000
OPTIONS = {
    "loudness": {"target_lufs": -16.0, "true_peak_dbtp": -1.0},
    "trim": {"top_db": 40, "margin_ms": 100},
    "min_duration": 0.5,
    "augment": {"speed": [0.9, 1.1], "noise": {"source": "pink", "snrs": [10]}},
    "seed": 5,
}
LEAD, BODY, TAIL = 0.5, 1.2, 0.4


def clip_audio(k: int) -> bytes:
    """Silence, a tone with clicks (the limiter must act at -16 LUFS), silence."""
    t = np.arange(round(BODY * RATE)) / RATE
    body = 0.05 * np.sin(2 * np.pi * (180 + 20 * k) * t)
    body[:: RATE // 4] += 0.8
    y = np.concatenate([np.zeros(round(LEAD * RATE)), body, np.zeros(round(TAIL * RATE))])
    out = io.BytesIO()
    sf.write(out, y, RATE, format="FLAC", subtype="PCM_16")
    return out.getvalue()


def make_corpus(speakers: int = 8, clips: int = 3):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from contributors.tests.factories import UserFactory
    from exports.tests.conftest import create_clips

    chunks = []
    for k in range(speakers):
        user = UserFactory(gender=["female", "male"][k % 2], age_range="twenties")
        for i, chunk in enumerate(create_clips(clips, speaker=user)):
            default_storage.delete(chunk.audio.name)
            default_storage.save(chunk.audio.name, ContentFile(clip_audio(k * clips + i)))
            chunk.duration = LEAD + BODY + TAIL
            chunk.save(update_fields=["duration"])
            chunks.append(chunk)
    return chunks


@pytest.fixture
def processed(db, eager, researcher, settings):
    """Request and build a processed export; returns the refreshed row."""
    from exports import services

    settings.EXPORT_BATCH_SIZE = 5  # several batches, so the fan-out is exercised

    def run(formats, processing=None, **kwargs):
        export = services.export_create(
            requester=researcher, formats=formats, processing=processing or OPTIONS, **kwargs
        )
        services.export_build(export_id=export.id)
        export.refresh_from_db()
        assert export.status == "done", export.error
        return export

    return run


def nemo_entries(root) -> list[dict]:
    return [
        {**json.loads(line), "split": split}
        for split in ("train", "dev", "test")
        for line in (root / f"{split}_manifest.json").read_text().splitlines()
    ]


def read(path) -> np.ndarray:
    return sf.read(path, dtype="float64")[0]


def test_processed_audio_meets_every_target(processed, tmp_path):
    make_corpus()
    export = processed(["nemo"])
    root = download(export, tmp_path / "x")
    entries = nemo_entries(root)
    originals = {e["audio_filepath"]: e for e in entries if not e["augmentation"]}
    assert len(originals) == 24
    meter = pyloudnorm.Meter(RATE)
    ceiling = OPTIONS["loudness"]["true_peak_dbtp"]
    margin = OPTIONS["trim"]["margin_ms"] / 1000
    for path in originals:
        y = read(root / path)
        assert meter.integrated_loudness(y) == pytest.approx(-16.0, abs=0.5), path
        assert 20 * np.log10(np.abs(y).max()) <= ceiling
        over = resample_poly(y, 4, 1)
        assert 20 * np.log10(np.abs(over).max()) <= ceiling + 0.01
        voiced = np.flatnonzero(np.abs(y) > 1e-4)
        lead, tail = voiced[0] / RATE, (len(y) - 1 - voiced[-1]) / RATE
        assert margin - 0.002 <= lead <= margin + 0.032
        assert margin - 0.002 <= tail <= margin + 0.032
    augmented = [e for e in entries if e["augmentation"]]
    assert {e["split"] for e in augmented} == {"train"}  # never in dev or test
    train = [p for p, e in originals.items() if e["split"] == "train"]
    assert len(augmented) == 3 * len(train) > 0
    for path in train:
        stem = path.removesuffix(".flac")
        y = read(root / path)
        for factor in (0.9, 1.1):
            copy = read(root / f"{stem}-sp{str(factor).replace('.', 'p')}.flac")
            assert len(copy) / len(y) == pytest.approx(1 / factor, rel=0.01)
        noisy = read(root / f"{stem}-pink10db.flac")
        gain = noisy @ y / (y @ y)
        snr = 10 * np.log10(np.sum((gain * y) ** 2) / np.sum((noisy - gain * y) ** 2))
        assert snr == pytest.approx(10.0, abs=1.0)
    # Durations in the manifest are the processed audio's.
    for entry in entries:
        info = sf.info(root / entry["audio_filepath"])
        assert entry["duration"] == pytest.approx(info.frames / info.samplerate, abs=1e-6)

    stats = json.loads((root / "stats.json").read_text())
    assert stats["export"]["processing"]["loudness"]["target_lufs"] == -16.0
    assert stats["processing"]["augmented"]["speed=1.1"]["clips"] == len(train)
    assert stats["processing"]["limited_clips"] == 24
    assert stats["totals"]["clips"] == len(entries)
    assert stats["splits"]["train"]["clips"] == 4 * len(train)
    readme = (root / "README.md").read_text()
    assert "## Audio processing" in readme and "-16 LUFS" in readme
    assert "train split only" in readme and "| speed=0.9 |" in readme


def test_every_format_marks_augmented_copies_and_its_loader_reads_them(
    processed, tmp_path, monkeypatch
):
    import datasets
    import pandas as pd
    import webdataset as wds
    from lhotse import CutSet, load_manifest
    from lhotse.kaldi import load_kaldi_data_dir

    make_corpus(speakers=6, clips=2)
    formats = ["commonvoice", "huggingface", "nemo", "kaldi", "lhotse", "webdataset"]
    export = processed(formats)
    root = download(export, tmp_path / "x")
    monkeypatch.chdir(root)
    expected = {s: f["clips"] for s, f in export.stats["splits"].items()}
    seen: dict[str, dict[str, list[str]]] = {}

    files = {s: str(root / "data" / f"{s}-*.parquet") for s in expected}
    ds = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    seen["huggingface"] = {s: list(ds[s]["augmentation"]) for s in expected}
    seen["nemo"] = {
        s: [json.loads(line)["augmentation"] for line in (root / f"{s}_manifest.json").open()]
        for s in expected
    }
    seen["lhotse"] = {}
    seen["kaldi"] = {}
    seen["webdataset"] = {}
    seen["commonvoice"] = {}
    for split in expected:
        cuts = CutSet.from_manifests(
            recordings=load_manifest(f"recordings_{split}.jsonl.gz"),
            supervisions=load_manifest(f"supervisions_{split}.jsonl.gz"),
        )
        labels = []
        for cut in cuts:
            assert cut.load_audio().shape[1] == cut.num_samples
            labels.append(cut.supervisions[0].custom["augmentation"])
        seen["lhotse"][split] = labels
        _, supervisions, _ = load_kaldi_data_dir(f"kaldi/{split}", sampling_rate=RATE)
        aug = dict(
            line.split(" ", 1)
            for line in (root / f"kaldi/{split}/utt2augmentation").read_text().splitlines()
        )
        assert set(aug) == {s.id for s in supervisions}
        seen["kaldi"][split] = ["" if aug[s.id] == "none" else aug[s.id] for s in supervisions]
        urls = sorted(str(p) for p in root.glob(f"{split}-*.tar"))
        seen["webdataset"][split] = [
            json.loads(sample["json"])["augmentation"]
            for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False)
        ]
        frame = pd.read_csv(
            f"{split}.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False
        )
        assert all((root / "clips" / p).is_file() for p in frame["path"])
        seen["commonvoice"][split] = list(frame["augmentation"])

    for fmt, per_split in seen.items():
        for split, labels in per_split.items():
            assert len(labels) == expected[split], (fmt, split)
            marked = sorted(label for label in labels if label)
            if split == "train":
                originals = labels.count("")
                assert marked == sorted(
                    ["noise=pink@10dB", "speed=0.9", "speed=1.1"] * originals
                ), fmt
            else:
                assert marked == [], (fmt, split)
    # Common Voice's status files list the clips as contributed, not the copies.
    validated = pd.read_csv("validated.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
    assert len(validated) == 12 and set(validated["augmentation"].fillna("")) == {""}


def test_same_data_options_and_seed_give_identical_files(processed, tmp_path):
    make_corpus(speakers=6, clips=2)
    formats = ["huggingface", "lhotse", "kaldi", "webdataset"]

    def sums(export):
        # README.md and stats.json name the export (id, time); everything else must match.
        lines = (download(export, tmp_path / str(export.id)) / "SHA256SUMS").read_text()
        return [
            line for line in lines.splitlines() if not line.endswith(("README.md", "stats.json"))
        ]

    first = sums(processed(formats))
    assert len(first) > 30
    assert sums(processed(formats)) == first
    other = sums(processed(formats, processing={**OPTIONS, "seed": 6}))
    changed = {line.split("  ")[1] for line in set(other) ^ set(first)}
    # Only the noisy copies (and the files holding their bytes) depend on the seed.
    assert changed and all("pink10db" in path or not path.startswith("clips/") for path in changed)


def test_duration_filters_leave_clips_out_and_count_them(processed, make_clips):
    from exports.tests.conftest import create_clips

    make_corpus(speakers=5, clips=2)
    from contributors.tests.factories import UserFactory

    create_clips(3, speaker=UserFactory(), seconds=0.3)  # plain 0.3 s tones
    export = processed(["nemo"], processing={"min_duration": 0.5, "seed": 1})
    dropped = export.stats["dropped"]
    assert dropped["reasons"] == {"shorter than min_duration": 3}
    assert export.stats["totals"]["clips"] == 10
    assert export.stats["export"]["processing"]["min_duration"] == 0.5


# --- the API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("processing", "message"),
    [
        ({"loudnes": {"target_lufs": -23}}, "Unknown option(s): loudnes"),
        ({"loudness": {"target_lufs": -2}}, "less than or equal to -5"),
        ({"loudness": {"target_lufs": -23, "true_peak_dbtp": 3}}, "less than or equal to 0"),
        ({"augment": {"speed": [0.0]}}, "Speed factors must be between 0.5 and 2.0"),
        ({"augment": {"speed": [-1.1]}}, "Speed factors"),
        ({"augment": {"noise": {"source": "pink", "snrs": []}}}, "may not be empty"),
        ({"augment": {"noise": {"source": "purple", "snrs": [5]}}}, "not a valid choice"),
        ({"augment": {}}, "augment needs speed factors or noise"),
        ({"min_duration": 5, "max_duration": 2}, "min_duration must not exceed max_duration"),
        ({"channels": 6}, "not a valid choice"),
        ({"trim": {"margin_ms": 100, "extra": 1}}, "Unknown option(s): extra"),
        ({"augment": {"noise": {"source": "set", "snrs": [5]}}}, "No noise recordings"),
    ],
)
def test_bad_processing_options_are_a_400_saying_what_to_fix(
    api_client, researcher, processing, message
):
    client = api_client
    client.force_authenticate(researcher)
    response = client.post(
        "/api/exports/", {"formats": ["nemo"], "processing": processing}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert message in json.dumps(body, ensure_ascii=False), body
    assert body["detail"]


def test_processing_options_are_stored_with_every_key(api_client, researcher, db):
    from django.core.files.base import ContentFile

    from exports.models import Export, NoiseClip

    noise = NoiseClip.objects.create(name="fan", audio=ContentFile(clip_audio(0), "fan.flac"))
    NoiseClip.objects.create(name="old", audio=ContentFile(b"x", "old.flac"), active=False)
    client = api_client
    client.force_authenticate(researcher)
    body = {
        "formats": ["nemo"],
        "processing": {
            "loudness": {"target_lufs": -23},
            "augment": {"speed": [1.1, 0.9, 1.1], "noise": {"source": "set", "snrs": [20, 5]}},
        },
    }
    response = client.post("/api/exports/", body, format="json")
    assert response.status_code == 202, response.json()
    export = Export.objects.get(pk=response.json()["id"])
    assert export.processing == {
        "loudness": {"target_lufs": -23.0, "true_peak_dbtp": -1.0},
        "trim": None,
        "channels": 1,
        "min_duration": None,
        "max_duration": None,
        "augment": {
            "speed": [0.9, 1.1],
            "noise": {"source": "set", "snrs": [5.0, 20.0], "clips": [noise.pk]},
        },
        "seed": 0,
    }
    detail = client.get(f"/api/exports/{export.id}/").json()
    assert detail["processing"] == export.processing


def test_per_clip_demographics_follow_the_cohort_rule(processed, tmp_path):
    def every_byte(root) -> bytes:
        return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())

    make_corpus(speakers=4, clips=2)
    small = download(processed(["commonvoice"], processing={"seed": 1}), tmp_path / "small")
    assert b"twenties" not in every_byte(small)
    make_corpus(speakers=2, clips=2)  # six speakers now: enough to hide in
    six = download(processed(["commonvoice"], processing={"seed": 1}), tmp_path / "six")
    assert b"twenties" in every_byte(six)
