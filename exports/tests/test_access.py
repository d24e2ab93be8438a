"""Researcher access: the request (page and API), the admin's decision, the e-mails."""

from __future__ import annotations

import pytest
from django.conf import settings

from contributors.services import user_erase
from exports.models import AccessRequest
from shrutik.permissions import RESEARCHER, user_has_role

pytestmark = pytest.mark.django_db

PAGE = "/research/access/"
API = "/api/research/access/"
PURPOSE = "Training a Bangla speech recogniser for a public health helpline."


def request_body(**overrides) -> dict:
    return {
        "name": "Dr Rina Das",
        "institution": "University of Dhaka",
        "email": "rina@example.org",
        "purpose": PURPOSE,
        "terms_version": settings.DATA_TERMS_VERSION,
        **overrides,
    }


@pytest.fixture
def admin(make_user):
    return make_user(is_staff=True, is_superuser=True, email="admin@example.org")


def pending(user, **fields) -> AccessRequest:
    return AccessRequest.objects.create(
        user=user, **{**request_body(), **fields, "language": fields.get("language", "en")}
    )


def test_the_exports_page_tells_a_non_researcher_how_to_get_access(client, contributor):
    client.force_login(contributor)
    response = client.get("/exports/")
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="site-header"' in html  # the site's own page, not a bare 403
    assert "Dataset exports are for researchers" in html
    assert f'href="{PAGE}"' in html
    pending(contributor)
    html = client.get("/exports/").content.decode()
    assert "is waiting for an admin" in html


def test_anyone_reads_the_terms_and_is_asked_to_sign_in_to_request(client):
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Data terms (version {settings.DATA_TERMS_VERSION})" in html
    assert f"/accounts/login/?next={PAGE}" in html
    assert 'id="access-form"' not in html
    assert client.post(PAGE, request_body())["Location"].startswith("/accounts/login/")
    assert not AccessRequest.objects.exists()


def test_a_contributor_requests_access_on_the_page_and_admins_are_told(
    client, contributor, admin, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(contributor)
    assert 'id="access-form"' in client.get(PAGE).content.decode()
    body = {**request_body(), "accept_terms": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PAGE, body, follow=True)
    assert response.status_code == 200
    access = AccessRequest.objects.get(user=contributor)
    assert (access.status, access.terms_version) == ("pending", settings.DATA_TERMS_VERSION)
    assert access.institution == "University of Dhaka" and access.purpose == PURPOSE
    assert 'id="access-status"' in response.content.decode()
    assert 'id="access-form"' not in response.content.decode()
    (mail,) = mailoutbox
    assert mail.to == [admin.email] and "Dr Rina Das" in mail.subject
    assert PURPOSE in mail.body
    assert f"http://testserver/admin/exports/accessrequest/{access.pk}/change/" in mail.body


@pytest.mark.parametrize(
    "changes, field",
    [({"accept_terms": ""}, "accept_terms"), ({"purpose": "data"}, "purpose"),
     ({"email": "not an address"}, "email"), ({"institution": ""}, "institution")],
)  # fmt: skip
def test_a_request_without_terms_purpose_or_contact_is_refused(client, contributor, changes, field):
    client.force_login(contributor)
    response = client.post(PAGE, {**request_body(), "accept_terms": "on", **changes})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not AccessRequest.objects.exists()


def test_the_api_takes_one_request_at_a_time(api_client, contributor, researcher):
    assert api_client.post(API, request_body(), format="json").status_code == 401
    api_client.force_authenticate(contributor)
    response = api_client.post(API, request_body(), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "pending"
    again = api_client.post(API, request_body(), format="json")
    assert again.status_code == 409 and "still waiting" in again.json()["detail"]
    listed = api_client.get(API).json()["results"]
    assert [r["id"] for r in listed] == [response.json()["id"]]
    # Researchers need no access, and old terms are not the ones in force.
    api_client.force_authenticate(researcher)
    assert api_client.get(API).json()["results"] == []
    refused = api_client.post(API, request_body(), format="json")
    assert (
        refused.status_code == 400 and "already have researcher access" in refused.json()["detail"]
    )


@pytest.mark.parametrize(
    "changes, fragment",
    [({"terms_version": "1999-01"}, "current data terms"), ({"purpose": "x"}, "purpose"),
     ({"email": "nope"}, "email"), ({"surprise": 1}, "surprise")],
)  # fmt: skip
def test_bad_requests_are_400s_that_say_what_to_fix(api_client, contributor, changes, fragment):
    api_client.force_authenticate(contributor)
    response = api_client.post(API, request_body(**changes), format="json")
    assert response.status_code == 400
    assert fragment in response.json()["detail"]


def test_an_admin_approves_in_the_admin_which_grants_the_role_and_tells_them(
    client, admin, contributor, mailoutbox, django_capture_on_commit_callbacks
):
    access = pending(contributor, language="bn")
    client.force_login(admin)
    page = client.get(f"/admin/exports/accessrequest/{access.pk}/change/").content.decode()
    assert 'name="_approve"' in page and PURPOSE in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/exports/accessrequest/{access.pk}/change/",
            {"note": "Welcome aboard.", "_approve": "1"},
        )
    assert response.status_code == 302
    access.refresh_from_db()
    assert (access.status, access.decided_by, access.note) == ("approved", admin, "Welcome aboard.")
    contributor.refresh_from_db()
    assert user_has_role(contributor, RESEARCHER)
    assert user_has_role(contributor, "contributor")  # other roles stay
    assert not contributor.is_staff  # the researcher role opens no admin
    (mail,) = mailoutbox
    assert mail.to == ["rina@example.org"]
    # In the language they asked in, with the way to the exports page.
    assert "http://testserver/exports/" in mail.body and "Welcome aboard." in mail.body
    assert "Hello" not in mail.body
    # Decided requests offer no second decision.
    page = client.get(f"/admin/exports/accessrequest/{access.pk}/change/").content.decode()
    assert 'name="_approve"' not in page


def test_an_admin_declines_and_the_requester_may_ask_again(
    client, admin, contributor, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    first, second = pending(contributor), pending(make_user())
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/exports/accessrequest/",
            {"action": "decline", "_selected_action": [first.pk, second.pk]},
        )
    assert set(AccessRequest.objects.values_list("status", flat=True)) == {"declined"}
    assert not user_has_role(contributor, RESEARCHER)
    assert len(mailoutbox) == 2 and "declined" in mailoutbox[0].body
    # Deciding again changes nothing and sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/exports/accessrequest/", {"action": "approve", "_selected_action": [first.pk]}
        )
    first.refresh_from_db()
    assert first.status == "declined" and len(mailoutbox) == 2
    # The page says so, and takes a new request.
    client.force_login(contributor)
    html = client.get(PAGE).content.decode()
    assert "was declined" in html and 'id="access-form"' in html


def test_a_mail_server_that_fails_does_not_undo_the_decision(
    client, admin, contributor, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from exports.services import access as service

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(service, "send_mail", broken)
    access = pending(contributor)
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/exports/accessrequest/{access.pk}/change/", {"note": "", "_approve": "1"}
        )
    assert response.status_code == 302
    access.refresh_from_db()
    assert access.status == "approved" and user_has_role(contributor, RESEARCHER)
    assert "Could not send" in caplog.text


def test_erasing_an_account_erases_its_requests(contributor, django_capture_on_commit_callbacks):
    pending(contributor)
    with django_capture_on_commit_callbacks(execute=True):
        user_erase(user=contributor)
    assert not AccessRequest.objects.exists()
