"""Login lockout (django-axes) on the web login, the admin login and the token API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import RequestFactory, override_settings

from contributors.lockout import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # the factory's


def token(client, username, password, **extra):
    return client.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", **extra
    )


def web_login(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def fail_until_locked(send) -> list[int]:
    return [send("wrong password").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]


def test_api_locks_out_after_the_failure_limit_even_for_the_right_password(api_client, contributor):
    codes = fail_until_locked(lambda pw: token(api_client, contributor.username, pw))
    assert codes == [401] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    locked = token(api_client, contributor.username, PASSWORD)
    assert locked.status_code == 429
    body = locked.json()
    assert "Too many failed logins" in body["detail"] and "minutes" in body["detail"]
    assert "access" not in body
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()


def test_web_login_locks_out_with_a_page_that_says_why(client, contributor):
    codes = fail_until_locked(lambda pw: web_login(client, contributor.username, pw))
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    locked = web_login(client, contributor.username, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/accounts/profile/").status_code == 302  # still signed out


def test_the_admin_login_shares_the_lockout(client, make_user):
    admin = make_user(is_staff=True, is_superuser=True)
    fail_until_locked(lambda pw: web_login(client, admin.username, pw))
    response = client.post(
        "/admin/login/?next=/admin/", {"username": admin.username, "password": PASSWORD}
    )
    assert response.status_code == 429


def test_lockout_is_per_username_and_address(api_client, contributor, make_user):
    home = {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    fail_until_locked(lambda pw: token(api_client, contributor.username, pw, **home))
    assert token(api_client, contributor.username, PASSWORD, **home).status_code == 429
    # The same account from another address, and another account from this one.
    elsewhere = {"HTTP_X_FORWARDED_FOR": "198.51.100.20"}
    assert token(api_client, contributor.username, PASSWORD, **elsewhere).status_code == 200
    other = make_user()
    assert token(api_client, other.username, PASSWORD, **home).status_code == 200


def test_a_spoofed_forwarded_for_entry_does_not_change_the_address():
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7", REMOTE_ADDR="10.0.0.2"
    )
    with override_settings(TRUSTED_PROXY_COUNT=1):
        assert client_ip(request) == "203.0.113.7"  # what our proxy saw
    with override_settings(TRUSTED_PROXY_COUNT=0):
        assert client_ip(request) == "10.0.0.2"  # no proxy: the header is ignored


@pytest.mark.parametrize("forwarded", ["not-an-address", "1.2.3.4, forged"])
def test_a_forwarded_for_that_is_not_an_address_is_refused_as_a_login_not_a_crash(
    api_client, contributor, forwarded
):
    with override_settings(TRUSTED_PROXY_COUNT=1):
        wrong = token(api_client, contributor.username, "wrong", HTTP_X_FORWARDED_FOR=forwarded)
        right = token(api_client, contributor.username, PASSWORD, HTTP_X_FORWARDED_FOR=forwarded)
    assert wrong.status_code == 401
    assert right.status_code == 200


def test_the_lockout_ends_after_the_cool_off(api_client, contributor):
    fail_until_locked(lambda pw: token(api_client, contributor.username, pw))
    assert token(api_client, contributor.username, PASSWORD).status_code == 429
    # Time travel: the failures happened longer ago than the cool-off.
    past = settings.AXES_COOLOFF_TIME + timedelta(minutes=1)
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= past
        attempt.save(update_fields=["attempt_time"])
    assert token(api_client, contributor.username, PASSWORD).status_code == 200


def test_an_admin_can_lift_a_lockout(client, api_client, contributor, make_user):
    fail_until_locked(lambda pw: token(api_client, contributor.username, pw))
    assert AccessAttempt.objects.filter(username=contributor.username).exists()

    client.force_login(make_user(is_staff=True, is_superuser=True))
    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and contributor.username in page.content.decode()
    attempt = AccessAttempt.objects.get(username=contributor.username)
    response = client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert token(api_client, contributor.username, PASSWORD).status_code == 200


def test_the_reset_command_lifts_a_lockout(api_client, contributor):
    fail_until_locked(lambda pw: token(api_client, contributor.username, pw))
    call_command("axes_reset_username", contributor.username, verbosity=0)
    assert token(api_client, contributor.username, PASSWORD).status_code == 200


def test_a_successful_login_clears_earlier_failures(api_client, contributor):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        token(api_client, contributor.username, "wrong password")
    assert token(api_client, contributor.username, PASSWORD).status_code == 200
    codes = [token(api_client, contributor.username, "nope").status_code for _ in range(2)]
    assert codes == [401, 401]
