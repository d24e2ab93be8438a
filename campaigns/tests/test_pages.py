"""The campaign pages: create, join through the link (signing up on the way), watch."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, Participation

pytestmark = pytest.mark.django_db

PASSWORD = "a-long enough pass phrase"


def test_an_organiser_creates_a_campaign_from_the_page(client, organiser):
    from recordings.tests.factories import LanguageFactory

    LanguageFactory()
    client.force_login(organiser)
    assert client.get("/campaigns/new/").status_code == 200
    response = client.post(
        "/campaigns/new/",
        {
            "name": "Village drive",
            "language": "bn",
            "goal_recorded_minutes": 60,
            "goal_validated_minutes": 0,
            "starts_at": "2026-01-01T10:00",
            "ends_at": "2036-01-01T12:00",
            "show_names": "on",
        },
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert campaign.join_code[:4] in page and f"/api/campaigns/{campaign.pk}/qr.svg" in page
    assert 'data-socket="/ws/campaigns/' in page
    wall = client.get(f"/campaigns/{campaign.pk}/wall/")
    assert wall.status_code == 200 and b"qr.svg" in wall.content


def test_contributors_cannot_open_the_new_campaign_page(client, contributor):
    client.force_login(contributor)
    assert client.get("/campaigns/new/").status_code == 404


def test_the_join_link_carries_the_code_through_sign_up(client, organiser, make_campaign):
    campaign = make_campaign(organiser)
    code = campaign["join_code"].replace("-", "")
    link = client.get(f"/c/{code}")
    assert link.status_code == 200
    assert f"/accounts/signup/?next=/c/{code}" in link.content.decode()
    signed_up = client.post(
        "/accounts/signup/",
        {
            "username": "newreader",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "consent": "on",
            "next": f"/c/{code}",
        },
    )
    assert signed_up.status_code == 302 and signed_up["Location"] == f"/c/{code}"
    form = client.get(signed_up["Location"]).content.decode()
    assert campaign["join_code"] in form
    joined = client.post("/campaigns/join/", {"code": campaign["join_code"], "show_name": "on"})
    assert joined.status_code == 302 and joined["Location"] == f"/campaigns/{campaign['id']}/"
    assert Participation.objects.get(user__username="newreader").show_name
    dashboard = client.get("/dashboard/").content.decode()
    assert campaign["name"] in dashboard and "js/campaign.js" in dashboard


def test_sign_up_never_follows_a_link_to_another_site(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "other",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "consent": "on",
            "next": "https://evil.test/",
        },
    )
    assert response["Location"] == "/accounts/profile/"


def test_a_wrong_code_on_the_page_says_so(client, contributor):
    client.force_login(contributor)
    response = client.post("/campaigns/join/", {"code": "ZZZZ-ZZZZ"})
    assert response.status_code == 400
    assert "No campaign has this code" in response.content.decode()


def test_a_closed_campaign_shows_its_summary(client, organiser, make_campaign):
    campaign = make_campaign(organiser)
    client.force_login(organiser)
    client.post(f"/campaigns/{campaign['id']}/close/")
    page = client.get(f"/campaigns/{campaign['id']}/").content.decode()
    assert "The campaign is over" in page and "qr.svg" not in page
