"""``manage.py consensus_evaluate``: the replay with this deployment's settings,
its review share under the capacity rule the platform applies."""

from __future__ import annotations

import io
import json
from pathlib import Path

from django.core.management import call_command

FIXTURES = Path(__file__).parent / "fixtures" / "crowdspeech"


def evaluate(**options) -> dict:
    out = io.StringIO()
    call_command(
        "consensus_evaluate",
        crowd=str(FIXTURES / "dev-clean-crowd.tsv"),
        gt=str(FIXTURES / "dev-clean-gt.txt"),
        stdout=out,
        **options,
    )
    return json.loads(out.getvalue())


def test_the_review_share_follows_the_deployments_review_capacity(settings):
    settings.REVIEWS_PER_DAY = 5
    bounded = evaluate(clips_per_day=1000)
    unbounded = evaluate(reviews_per_day=0)
    assert bounded["review_queue"] == {"reviews_per_day": 5, "clips_per_day": 1000}
    assert "review_queue" not in unbounded
    # Five reviews a day for a thousand clips a day: 0.5% of the clips, plus
    # the first day's room while the queue is empty.
    assert bounded["review_share"] < unbounded["review_share"]
    assert bounded["review_share"] <= 0.03
    assert bounded["clips"] == unbounded["clips"] == 200
