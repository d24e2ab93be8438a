"""POST /api/exports/ → a real worker builds it → files in S3 → loaders read them."""

from __future__ import annotations

import json

import pytest

from exports.models import Export
from exports.tests.conftest import download
from shrutik.testing import wait_until


@pytest.mark.e2e
def test_a_worker_builds_a_requested_export_that_loaders_read(
    worker, api_client, researcher, corpus, tmp_path
):
    import datasets
    import pandas as pd

    api_client.force_authenticate(researcher)
    response = api_client.post(
        "/api/exports/",
        {"version": "e2e", "formats": ["huggingface", "nemo", "commonvoice"]},
        format="json",
    )
    assert response.status_code == 202
    url = f"/api/exports/{response.json()['id']}/"

    def finished():
        data = api_client.get(url).json()
        return data if data["status"] in {"done", "failed"} else None

    data = wait_until(finished, timeout=90, what="the export to finish")
    assert data["status"] == "done", data["error"]
    export = Export.objects.get(pk=data["id"])
    root = download(export, tmp_path / "export")
    ds = datasets.load_dataset(
        "parquet", data_dir=str(root / "data"), cache_dir=str(tmp_path / "hf")
    )
    assert sum(len(ds[s]) for s in ds) == data["stats"]["totals"]["clips"] == 32
    nemo = [
        json.loads(line)
        for split in ("train", "dev", "test")
        for line in (root / f"{split}_manifest.json").read_text().splitlines()
    ]
    assert sum(e["duration"] for e in nemo) == pytest.approx(data["stats"]["totals"]["seconds"])
    validated = pd.read_csv(root / "validated.tsv", sep="\t", quoting=3, dtype=str)
    assert len(validated) == 32
