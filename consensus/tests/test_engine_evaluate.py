"""Offline evaluation: CrowdSpeech replay, Bangla simulation, the CLI."""

import json
from pathlib import Path

import pytest

from consensus.engine.evaluate import evaluate_crowd, load_crowdspeech, main
from consensus.engine.simulate import SENTENCES, simulate_bangla, simulate_clips

# The first clips of the CrowdSpeech dev splits, in file order (fixtures/crowdspeech/README.md):
# the same clips the replays below read with ``limit`` from the full splits.
DATA = Path(__file__).resolve().parent / "fixtures" / "crowdspeech"


def test_consensus_beats_a_single_worker_clearly_on_dev_clean_subset():
    report = evaluate_crowd(
        DATA / "dev-clean-crowd.tsv", DATA / "dev-clean-gt.txt", seed=0, limit=200
    )
    assert report["clips"] == 200
    assert report["consensus_wer"] < 0.6 * report["single_worker_wer"]
    assert 2.0 <= report["mean_transcripts"] <= 5.0
    assert report["validated_wer"] < report["reviewed_wer"]
    assert report["decided_consensus_wer"] < 0.6 * report["single_worker_wer"]
    for key in ("review_rate", "validated_wer", "reviewed_wer", "calibration"):
        assert key in report


def test_replay_is_deterministic_for_a_seed():
    kwargs = {"limit": 60, "max_transcripts": 4}
    crowd, gt = DATA / "dev-other-crowd.tsv", DATA / "dev-other-gt.txt"
    first = evaluate_crowd(crowd, gt, seed=3, **kwargs)
    assert evaluate_crowd(crowd, gt, seed=3, **kwargs) == first
    assert first["max_transcripts"] == 4


def test_loader_reads_quoted_multiline_transcripts(tmp_path):
    crowd = tmp_path / "x-crowd.tsv"
    crowd.write_text(
        "INPUT:audio\tOUTPUT:transcription\tASSIGNMENT:worker_id\n"
        'u1\t"two\r\nlines"\tw1\n'
        "u1\tone line\tw2\n"
        "u2\tother\tw1\n",
        encoding="utf-8",
    )
    gt = tmp_path / "x-gt.txt"
    gt.write_text("u1\ttwo lines\nu2\tother\n", encoding="utf-8")
    clips = load_crowdspeech(crowd, gt)
    assert [clip.clip_id for clip in clips] == ["u1", "u2"]
    assert clips[0].transcripts[0][:2] == ("w1", "two\r\nlines")
    assert clips[0].reference == "two lines"


def test_simulated_bangla_consensus_weights_and_prior():
    report = simulate_bangla(seed=2, clips=200)
    with_prior, without = report["with_prior"], report["without_prior"]
    assert with_prior["consensus_wer"] < 0.4 * with_prior["single_worker_wer"]
    # Encoding noise and punctuation would double the single-worker WER.
    assert report["single_worker_wer_whitespace_only"] > 1.5 * with_prior["single_worker_wer"]
    # The script prior saves transcripts and errors when readers mostly read it.
    assert with_prior["consensus_wer"] < without["consensus_wer"]
    assert with_prior["mean_transcripts"] < without["mean_transcripts"]
    learned = report["learned_weight_by_profile"]
    assert learned["spammer"]["mean_weight"] < 0.5
    assert learned["careful"]["mean_weight"] > learned["average"]["mean_weight"]
    assert learned["average"]["mean_weight"] > learned["sloppy"]["mean_weight"]


def test_simulation_is_seeded_and_uses_the_inline_sentences():
    first = simulate_clips(seed=4, clips=30)
    assert simulate_clips(seed=4, clips=30) == first
    assert {clip.script for clip in first} <= set(SENTENCES)
    assert any("\u200c" in text or "\u200d" in text for c in first for _, text in c.transcripts)


def test_cli_prints_one_json_object(capsys):
    main(
        [
            "--crowd",
            str(DATA / "dev-clean-crowd.tsv"),
            "--gt",
            str(DATA / "dev-clean-gt.txt"),
            "--limit",
            "20",
        ]
    )
    out = capsys.readouterr().out.strip()
    report = json.loads(out)
    assert "\n" not in out
    assert report["clips"] == 20 and report["seed"] == 0


def test_cli_requires_files_or_simulation(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "--crowd and --gt are required" in capsys.readouterr().err
