"""Readers report scripts (typo, offensive, wrong language, hard to read); a script
is withdrawn after SCRIPT_REPORTS_TO_WITHDRAW readers and admins close the reports."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from recordings import selectors, services
from recordings.admin import ScriptReportAdmin
from recordings.models import Script, ScriptReport
from recordings.tests.factories import LanguageFactory, make_script

pytestmark = pytest.mark.django_db

TWO_SENTENCES = "রাতের আকাশে অনেক তারা। আমি দুধ দিয়ে চা খাই।"


def report(api_client, user, script, **body):
    api_client.force_authenticate(user)
    return api_client.post(
        f"/api/scripts/{script.pk}/report/", {"reason": "typo", **body}, format="json"
    )


def test_a_report_hides_the_script_from_its_reader_only(api_client, make_user):
    language = LanguageFactory()
    script = make_script(language, TWO_SENTENCES)
    reader, other = make_user(), make_user()
    response = report(api_client, reader, script, sentence=1)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "script": script.pk,
        "reason": "typo",
        "sentence": 1,
        "withdrawn": False,
    }
    assert selectors.script_next(user=reader, language=language, length=None) is None
    assert selectors.script_next(user=other, language=language, length=None) == script


def test_the_script_is_withdrawn_after_enough_readers_report_it(api_client, make_user, settings):
    settings.SCRIPT_REPORTS_TO_WITHDRAW = 3
    script = make_script(LanguageFactory(), TWO_SENTENCES)
    readers = [make_user() for _ in range(3)]
    # One reader reporting twice is one report (their reason changes).
    assert report(api_client, readers[0], script).json()["withdrawn"] is False
    again = report(api_client, readers[0], script, reason="offensive")
    assert again.json() == {**again.json(), "reason": "offensive", "withdrawn": False}
    assert ScriptReport.objects.filter(script=script).count() == 1
    assert report(api_client, readers[1], script).json()["withdrawn"] is False
    script.refresh_from_db()
    assert script.active
    assert report(api_client, readers[2], script).json()["withdrawn"] is True
    script.refresh_from_db()
    assert not script.active
    newcomer = make_user()
    assert selectors.script_next(user=newcomer, language=script.language, length=None) is None


@pytest.mark.parametrize(
    "body, status",
    [
        ({"reason": "boring"}, 400),
        ({"reason": "typo", "sentence": 2}, 400),  # the script has sentences 0 and 1
        ({"reason": "typo", "sentence": -1}, 400),
        ({"reason": "typo", "extra": 1}, 400),
    ],
)
def test_a_malformed_report_is_refused_with_a_reason(api_client, contributor, body, status):
    script = make_script(LanguageFactory(), TWO_SENTENCES)
    api_client.force_authenticate(contributor)
    response = api_client.post(f"/api/scripts/{script.pk}/report/", body, format="json")
    assert response.status_code == status
    assert response.json()
    assert not ScriptReport.objects.exists()


def test_reporting_needs_an_account_with_consent(api_client, make_user):
    script = make_script(LanguageFactory())
    anonymous = api_client.post(f"/api/scripts/{script.pk}/report/", {"reason": "typo"})
    assert anonymous.status_code == 401
    no_consent = make_user(consent_version="", consent_at=None)
    assert report(api_client, no_consent, script).status_code == 403
    api_client.force_authenticate(make_user())
    missing = api_client.post("/api/scripts/999999/report/", {"reason": "typo"}, format="json")
    assert missing.status_code == 404 and "detail" in missing.json()


def admin_action(action: str, reports) -> None:
    request = RequestFactory().post("/")
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    model_admin = ScriptReportAdmin(ScriptReport, site)
    chosen = ScriptReport.objects.filter(pk__in=[r.pk for r in reports])
    getattr(model_admin, action)(request, chosen)


def test_admins_restore_a_withdrawn_script_or_keep_it_out(make_user, settings):
    settings.SCRIPT_REPORTS_TO_WITHDRAW = 1
    kept = make_script(LanguageFactory(), "রাতের আকাশে অনেক তারা।")
    restored = make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")
    reader = make_user()
    first = services.script_report(script=kept, user=reader, reason="offensive")
    second = services.script_report(script=restored, user=reader, reason="typo")
    assert first.withdrawn and second.withdrawn
    admin_action("keep_scripts_out", [first.report])
    admin_action("restore_scripts", [second.report])
    assert not Script.objects.get(pk=kept.pk).active
    assert Script.objects.get(pk=restored.pk).active
    assert not ScriptReport.objects.filter(resolved_at__isnull=True).exists()
    # Closed reports no longer count towards withdrawing the script again.
    other = make_user()
    settings.SCRIPT_REPORTS_TO_WITHDRAW = 2
    assert not services.script_report(script=restored, user=other, reason="typo").withdrawn


def test_the_report_queue_opens_in_the_admin(client, make_user):
    admin = make_user(is_staff=True, is_superuser=True)
    services.script_report(
        script=make_script(LanguageFactory(), TWO_SENTENCES),
        user=make_user(),
        reason="hard_to_read",
        sentence_index=1,
    )
    client.force_login(admin)
    page = client.get("/admin/recordings/scriptreport/?state=open")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hard to read aloud" in html and "আমি দুধ দিয়ে চা খাই।" in html
