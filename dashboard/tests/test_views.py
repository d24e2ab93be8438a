"""The dashboard: my work, platform totals, the hours chart and opt-in leaderboards."""

import re
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contributors.models import ReliabilityScore
from dashboard import selectors
from dashboard.charts import _nice_ceiling, hours_chart
from recordings.models import Chunk, Language, Recording
from recordings.tests.factories import LanguageFactory, make_chunks, reject_reading
from transcriptions.models import Transcription

pytestmark = pytest.mark.django_db


def test_dashboard_requires_login(client):
    assert client.get("/dashboard/").status_code == 302


def test_dashboard_shows_my_recordings_transcriptions_and_reliability(
    client, contributor, make_user
):
    chunks = make_chunks(2, contributor=contributor)
    Recording.objects.filter(pk=chunks[0].recording_id).update(
        status="rejected", rejection_reason="Too quiet."
    )
    (theirs,) = make_chunks(1, contributor=make_user())
    Transcription.objects.create(chunk=theirs, user=contributor, text="আমি দুধ দিয়ে চা খাই")
    ReliabilityScore.objects.create(user=contributor, language="bn", alpha=9, beta=1, chunks=12)
    client.force_login(contributor)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rejected" in html and "Too quiet." in html
    assert "আমি দুধ দিয়ে চা খাই" in html
    assert "90%" in html and "বাংলা" in html
    assert response.context["mine"]["recordings_total"] == 1
    assert response.context["mine"]["transcriptions_total"] == 1


def test_dashboard_lists_only_opted_in_contributors_by_display_name(client, make_user):
    shy = make_user(display_name="Shy Reader", show_on_leaderboard=False)
    proud = make_user(display_name="Proud Reader", show_on_leaderboard=True)
    nameless = make_user(display_name="", show_on_leaderboard=True)
    for user in (shy, proud, nameless):
        make_chunks(1, contributor=user)
    client.force_login(shy)
    html = client.get("/dashboard/").content.decode()
    leaders = html.split('id="leaders-heading"')[1]
    assert "Proud Reader" in leaders
    assert "Shy Reader" not in leaders
    assert proud.username not in leaders and nameless.username not in leaders


def test_dashboard_draws_the_hours_chart_as_inline_svg(client, contributor):
    make_chunks(2, contributor=contributor)
    Chunk.objects.update(status="validated")
    client.force_login(contributor)
    html = client.get("/dashboard/").content.decode()
    assert "<svg" in html and html.count("<polyline") == 2
    assert "<script" not in html.split("<svg")[1].split("</svg>")[0]


def add_dashboard_data(contributor, make_user, batches: int) -> None:
    """Something of every kind the dashboard shows, ``batches`` times over: a
    language, recordings and validated chunks, transcriptions both ways, a
    reliability score and an opted-in contributor on the leaderboards."""
    for _ in range(batches):
        n = Language.objects.count()
        language = LanguageFactory(code=f"x{n}", name=f"Language {n}", native_name=f"L{n}")
        mine = make_chunks(3, contributor=contributor, language=language)
        other = make_user(show_on_leaderboard=True)
        theirs = make_chunks(2, contributor=other, language=language)
        Chunk.objects.filter(pk__in=[c.pk for c in mine]).update(status="validated")
        Transcription.objects.create(chunk=theirs[0], user=contributor, text="আমি চা খাই")
        Transcription.objects.create(chunk=mine[0], user=other, text="আমি চা খাই")
        ReliabilityScore.objects.create(
            user=contributor, language=language.code, alpha=9, beta=1, chunks=12
        )


def test_dashboard_query_count_does_not_grow_with_data(client, contributor, make_user):
    def load() -> tuple[int, object]:
        # The platform totals are cached; each measured load computes them.
        cache.delete(selectors.STATS_CACHE_KEY)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/dashboard/")
        assert response.status_code == 200
        return len(queries), response

    client.force_login(contributor)
    add_dashboard_data(contributor, make_user, 1)
    load()  # the session and per-process caches, which later loads find warm
    small, response = load()
    assert response.context["mine"]["recordings_total"] == 1
    add_dashboard_data(contributor, make_user, 5)
    large, response = load()
    assert response.context["mine"]["recordings_total"] == 6
    assert len(response.context["reliability"]) == 6
    assert len(response.context["leaderboards"]["hours"]) == 6
    assert large == small


def test_hours_by_day_is_cumulative_per_language(contributor):
    chunks = make_chunks(2, contributor=contributor)  # a chunked recording of 6 s
    old = chunks[0].recording
    Recording.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    make_chunks(1, contributor=contributor)  # 3 s today
    Chunk.objects.filter(recording=old).update(status="validated")
    series = selectors.hours_by_day(days=7)
    recorded = series["bn"]["recorded"]
    assert len(recorded) == 7 and recorded[-1][0] == timezone.now().date()
    assert recorded[0][1] == round(6 / 3600, 3)  # carried in from before the window
    assert recorded[-1][1] == round(9 / 3600, 3)
    assert series["bn"]["validated"][-1][1] == round(5 / 3600, 3)


def test_hours_chart_layout():
    days = [date(2026, 11, d) for d in (1, 2, 3)]
    chart = hours_chart(
        {"bn": {"recorded": list(zip(days, [0, 1, 3], strict=True)),
                "validated": list(zip(days, [0, 0, 1], strict=True))}},
        names={"bn": "বাংলা"},
    )  # fmt: skip
    assert [t["value"] for t in chart["ticks"]] == [0, 2.5, 5]
    recorded = chart["lines"][0]
    assert recorded["language"] == "বাংলা" and recorded["kind"] == "recorded"
    first, *_, last = recorded["points"].split()
    assert first.split(",")[0] == str(float(chart["left"]))
    assert last.split(",")[0] == str(float(chart["right"]))
    assert [label["anchor"] for label in chart["labels"]] == ["start", "middle", "end"]
    assert hours_chart({}, names={})["empty"]


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (0.03, 0.05), (3, 5), (10, 10), (11, 20)])
def test_nice_ceiling(value, ceiling):
    assert _nice_ceiling(value) == pytest.approx(ceiling)


def test_a_contributor_listens_to_their_recording_and_its_clips(client, contributor, make_user):
    chunks = make_chunks(2, contributor=contributor, expected_text="আমি দুধ দিয়ে চা খাই।")
    recording = Recording.objects.get(pk=chunks[0].recording_id)
    Recording.objects.filter(pk=recording.pk).update(
        audio=f"recordings/{recording.pk}/original.webm", level_dbfs=-20.0, snr_db=40.0
    )
    client.force_login(contributor)
    dashboard = client.get("/dashboard/").content.decode()
    assert f'href="/dashboard/recordings/{recording.pk}/"' in dashboard
    page = client.get(f"/dashboard/recordings/{recording.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<audio controls") == 3  # the whole reading and its two clips
    # Signed, expiring links to the stored objects (S3 in this suite).
    assert f"chunks/{recording.pk}/1.flac?" in html and "Signature=" in html
    # How it sounds, in words rather than dBFS.
    assert "Loudness" in html and "Good" in html and "dBFS" not in html
    # Someone else's recording is not there for them.
    client.force_login(make_user())
    assert client.get(f"/dashboard/recordings/{recording.pk}/").status_code == 404


def test_a_rejected_recording_offers_its_script_again(client, contributor):
    (chunk,) = make_chunks(1, contributor=contributor)
    reject_reading(chunk.recording_id)
    script_id = Recording.objects.get(pk=chunk.recording_id).script_id
    client.force_login(contributor)
    html = client.get("/dashboard/").content.decode()
    assert f'href="/record/?script={script_id}"' in html
    # The reason in the reader's language, with the reader's digits.
    client.cookies["django_language"] = "bn"
    html = client.get("/dashboard/").content.decode()
    assert "০.৮" in html and "0.8" not in html


def test_dashboard_numbers_use_bangla_digits_on_bangla_pages(client, contributor):
    make_chunks(3, contributor=contributor)
    ReliabilityScore.objects.create(user=contributor, language="bn", alpha=9, beta=1, chunks=12)
    client.force_login(contributor)
    client.cookies["django_language"] = "bn"
    html = client.get("/dashboard/").content.decode()
    main = html.split('<main id="main"')[1].split("</main>")[0]
    assert "৯০%" in main and "১২" in main
    values = re.findall(r'<span class="tile-value">([^<]*)</span>', main)
    assert values and not any(re.search(r"[0-9]", value) for value in values), values


def test_plural_labels_follow_the_count(client, contributor):
    make_chunks(1, contributor=contributor)
    client.force_login(contributor)
    html = client.get("/dashboard/").content.decode()
    assert '<span class="tile-label">recording</span>' in html
    assert '<span class="tile-label">speaker</span>' in html


def test_the_home_page_shows_progress_per_language(client, make_user):
    bangla = LanguageFactory()
    LanguageFactory(code="en", name="English", native_name="English")
    make_chunks(2, contributor=make_user(), language=bangla)
    make_chunks(1, contributor=make_user(), language=bangla)
    Chunk.objects.update(status="validated")
    cache.clear()
    html = client.get("/").content.decode()
    assert "How it works" in html and "Progress so far" in html
    rows = html.split('class="data stacked progress"')[1].split("</table>")[0]
    bangla_row = rows.split('lang="bn"')[1].split("</tr>")[0]
    # Two readers; six and three seconds recorded, all of it validated.
    assert ">2</td>" in bangla_row
    assert 'lang="en"' in rows
