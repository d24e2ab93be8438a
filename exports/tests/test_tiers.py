"""The crowd-accepted tier: opt-in, filtered by confidence, marked in every
manifest and counted apart in the datasheet."""

from __future__ import annotations

import csv
import json

import pytest

from exports.tests.conftest import download

pytestmark = pytest.mark.django_db

TIERED = {"statuses": ["accepted", "validated"], "min_confidence": 0.8}


@pytest.fixture
def tiers(make_clips, make_user):
    """Three validated clips, two accepted ones over 0.8 and two under, one in review."""
    return {
        "validated": make_clips(3, confidence=0.97),
        "accepted": make_clips(2, speaker=make_user(), status="accepted", confidence=0.9),
        "doubtful": make_clips(2, speaker=make_user(), status="accepted", confidence=0.6),
        "review": make_clips(1, speaker=make_user(), status="needs_review", confidence=0.5),
    }


def manifest_rows(root) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(root.glob("*_manifest.json"))
        for line in path.read_text().splitlines()
    ]


def test_exports_hold_validated_clips_unless_the_accepted_tier_is_asked_for(tiers, build, tmp_path):
    export = build(["nemo"])
    assert export.stats["totals"]["clips"] == 3
    assert set(export.stats["tiers"]) == {"validated"}
    rows = manifest_rows(download(export, tmp_path / "plain"))
    assert len(rows) == 3 and not any("status" in row for row in rows)
    readme = (tmp_path / "plain" / "README.md").read_text()
    assert "| validated | 3 |" in readme and "accepted |" not in readme
    assert "carries each clip's `status`" not in readme


def test_the_accepted_tier_with_min_confidence_is_marked_and_counted_apart(tiers, build, tmp_path):
    export = build(["nemo", "commonvoice", "kaldi", "huggingface"], filters=TIERED)
    stats = export.stats
    assert stats["totals"]["clips"] == 5  # the doubtful and the reviewed are left out
    validated, accepted = stats["tiers"]["validated"], stats["tiers"]["accepted"]
    assert (validated["clips"], accepted["clips"]) == (3, 2)
    # Word-weighted mean of 1 − confidence: every clip of a tier shares one here.
    assert validated["estimated_wer"] == pytest.approx(0.03)
    assert accepted["estimated_wer"] == pytest.approx(0.1)
    seconds = sum(c.duration for c in tiers["accepted"])
    assert accepted["seconds"] == pytest.approx(seconds, abs=1e-3)
    assert validated["words"] > 0

    root = download(export, tmp_path / "tiered")
    readme = (root / "README.md").read_text()
    assert "## Quality tiers" in readme
    assert "| accepted | 2 |" in readme and "| 10.00% |" in readme
    assert "carries each clip's `status`" in readme

    # Every manifest says which tier each clip is from.
    rows = manifest_rows(root)
    assert sorted((r["status"], r["confidence"]) for r in rows) == [
        ("accepted", 0.9), ("accepted", 0.9),
        ("validated", 0.97), ("validated", 0.97), ("validated", 0.97),
    ]  # fmt: skip
    with (root / "accepted.tsv").open() as fh:
        assert len(list(csv.DictReader(fh, delimiter="\t"))) == 2
    with (root / "validated.tsv").open() as fh:
        assert len(list(csv.DictReader(fh, delimiter="\t"))) == 3
    statuses = [
        line.split()[1]
        for path in (root / "kaldi").glob("*/utt2status")
        for line in path.read_text().splitlines()
    ]
    assert sorted(statuses) == ["accepted"] * 2 + ["validated"] * 3

    import pyarrow.parquet as pq

    table = pq.read_table(sorted((root / "data").glob("*.parquet")))
    assert sorted(table.column("status").to_pylist()) == ["accepted"] * 2 + ["validated"] * 3
    assert "confidence" in table.schema.names
    assert "- name: confidence" in readme  # the card declares the columns too


def test_researchers_ask_for_the_accepted_tier_through_the_api(researcher):
    from rest_framework.test import APIClient

    from exports.models import Export

    client = APIClient()
    client.force_authenticate(researcher)
    response = client.post("/api/exports/", {"formats": ["nemo"], "filters": TIERED}, format="json")
    assert response.status_code == 202, response.json()
    export = Export.objects.get(pk=response.json()["id"])
    assert export.filters["statuses"] == ["accepted", "validated"]
    assert export.filters["min_confidence"] == 0.8
