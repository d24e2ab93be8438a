"""The researchers' pages and the review admin, at 360 px and 1280 px, in English and Bangla.

Each page must draw without console errors, Content-Security-Policy
violations (the review page's word shading once broke the site's
``style-src 'self'``), horizontal overflow or English strings of our
catalogue left on the Bangla page (tests/browser/test_pages.py has the checks).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from consensus import services as consensus_services
from exports.models import AccessRequest, Export
from recordings.models import Chunk
from recordings.tests.factories import LanguageFactory, make_chunks
from tests.browser.test_pages import check_page, english_messages
from transcriptions.models import Transcription

pytestmark = [
    pytest.mark.browser,
    # pytest-base-url (a pytest-playwright dependency) defines a fixture pytest 9 warns about.
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
    pytest.mark.django_db(transaction=True),
]

WIDTHS = (360, 1280)
# Collected in the page itself: Chromium also logs these to the console, but an
# event says exactly which directive refused what.
CSP_WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} refused ${e.blockedURI || "inline code"}`);
});
"""
# The preview has counted (it shows "Counting…" until then).
PREVIEWED = "!document.getElementById('preview-totals').textContent.trim().endsWith('…')"


@pytest.fixture
def watched(page, context):
    """The page, with console errors, uncaught exceptions and CSP violations recorded."""
    errors: list[str] = []

    def on_console(msg) -> None:
        # A page answered with the status it means (a 403 to a non-researcher,
        # a 400 to a form with errors) is logged as a failed load of itself.
        url = msg.location.get("url") or ""
        own_status = msg.text.startswith("Failed to load resource") and url == page.url
        # Django's admin templates link no icon, so the browser asks for
        # /favicon.ico; the site's own pages link theirs.
        admin_icon = url.endswith("/favicon.ico")
        if msg.type == "error" and not own_status and not admin_icon:
            errors.append(f"console: {msg.text} ({msg.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    context.add_init_script(CSP_WATCH)
    return page, errors


def visit_all(
    page, context, live_server, errors, pages, screenshot, *, submit=(), scope: str = ""
) -> list[str]:
    """Every page at every width in both languages; the problems found.

    ``scope``: a CSS selector of the parts whose words the Bangla check reads
    (the admin's own chrome is Django's, translated by Django's catalogue).
    """
    messages = english_messages()
    problems: list[str] = []
    for name, (path, ready) in pages.items():
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            found = {}
            for code in ("en", "bn"):
                context.add_cookies(
                    [{"name": settings.LANGUAGE_COOKIE_NAME, "value": code, "url": live_server.url}]
                )
                label = f"{name} @{width}px [{code}]"
                result = check_page(
                    page, f"{live_server.url}{path}", ready, errors, submit=name in submit
                )
                if scope:
                    parts = page.locator(scope).all_inner_texts()
                    result["text"] = " ".join(" ".join(parts).split())
                found[code] = result
                before = len(problems)
                if result["lang"] != code:
                    problems.append(f"{label}: <html lang={result['lang']!r}>")
                problems.extend(f"{label}: {e}" for e in result["errors"])
                violations = page.evaluate("window.__csp || []")
                problems.extend(f"{label}: CSP {v}" for v in violations)
                if result["width"] > width:
                    problems.append(f"{label}: {result['width']} px wide, widest: {result['wide']}")
                if code == "bn":
                    english = [
                        text
                        for text, pattern in messages
                        if pattern.search(found["en"]["text"]) and pattern.search(result["text"])
                    ]
                    if english:
                        problems.append(f"{label}: English strings left: {english}")
                if len(problems) > before:
                    screenshot(page, f"{name}-{width}-{code}")
    return problems


def test_the_access_pages_for_visitors_and_contributors(
    watched, context, live_server, login, contributor, screenshot
):
    page, errors = watched
    anonymous = {"access-anonymous": ("/research/access/", None)}
    problems = visit_all(page, context, live_server, errors, anonymous, screenshot)
    login(contributor)
    signed_in = {
        "access-form": ("/research/access/", None),
        # The form sent empty: its errors must fit and be translated too.
        "access-errors": ("/research/access/", "document.querySelectorAll('.error').length > 2"),
        "exports-no-access": ("/exports/", None),
    }
    problems += visit_all(
        page, context, live_server, errors, signed_in, screenshot, submit={"access-errors"}
    )
    AccessRequest.objects.create(
        user=contributor, name="Rina", institution="BUET", email="r@example.org",
        purpose="A speech recogniser for a health helpline.", terms_version="2026-12",
    )  # fmt: skip
    pending = {
        "access-pending": ("/research/access/", None),
        "exports-pending": ("/exports/", None),
    }
    problems += visit_all(page, context, live_server, errors, pending, screenshot)
    assert not problems, "\n".join(problems)


def test_the_exports_page_with_its_preview_and_deltas(
    watched, context, live_server, login, make_user, screenshot
):
    page, errors = watched
    researcher = make_user(roles=["contributor", "researcher"])
    speaker = make_user()
    make_chunks(3, contributor=speaker, language=LanguageFactory(), status="validated",
                consensus_text="আমি দুধ দিয়ে চা খাই।")  # fmt: skip
    Export.objects.create(
        requester=researcher, version="v1.0", formats=["huggingface", "commonvoice"],
        status="done", items_done=3, items_total=3, step="Done", indexed=True,
        stats={"totals": {"clips": 3, "hours": 0.002, "speakers": 1}},
        files=[{"path": "validated.tsv", "size": 2048, "sha256": "0" * 64}],
        total_bytes=2048, prefix="exports/v1.0/",
    )  # fmt: skip
    login(researcher)
    ready = f"({PREVIEWED}) && document.getElementById('exports-list').children.length > 0"
    pages = {"exports": ("/exports/", ready)}
    problems = visit_all(page, context, live_server, errors, pages, screenshot)
    assert not problems, "\n".join(problems)
    # The preview counted what matches, and a delta rests the filters.
    context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/exports/")
    page.wait_for_function(PREVIEWED)
    assert "clips: 3" in page.locator("#preview-totals").inner_text()
    page.locator("#export-since").select_option(index=1)
    expect(page.locator("#export-filters input[name=languages]").first).to_be_disabled()
    expect(page.locator("#export-split input[name=seed]")).to_be_disabled()
    expect(page.locator("#preview-delta")).to_be_visible()


def test_the_review_and_access_admin_pages(
    watched, context, live_server, login, make_user, screenshot
):
    page, errors = watched
    admin = make_user(is_staff=True, is_superuser=True)
    (chunk,) = make_chunks(1, expected_text="the kettle began to whistle")
    for text in ("the kettle began to whistle", "the cattle begun to whistle"):
        Transcription.objects.create(chunk=chunk, user=make_user(), text=text, normalized_text=text)
    Chunk.objects.filter(pk=chunk.pk).update(transcriptions_required=2)
    consensus_services.consensus_decide(chunk_id=chunk.id)
    Chunk.objects.filter(pk=chunk.pk).update(status="needs_review")
    request = AccessRequest.objects.create(
        user=make_user(), name="Rina Das", institution="BUET", email="r@example.org",
        purpose="A speech recogniser for a health helpline.", terms_version="2026-12",
    )  # fmt: skip
    login(admin)
    pages = {
        "review-queue": ("/admin/consensus/reviewchunk/", None),
        "review-chunk": (f"/admin/consensus/reviewchunk/{chunk.pk}/change/", None),
        "access-request": (f"/admin/exports/accessrequest/{request.pk}/change/", None),
    }
    # What this change renders: the readonly fields (reasons, shading, history),
    # the buttons, the messages and the titles.
    scope = ".readonly, .submit-row, .messagelist, #content h1, #content h2, td.field-__str__"
    problems = visit_all(page, context, live_server, errors, pages, screenshot, scope=scope)
    assert not problems, "\n".join(problems)
    # The shading is drawn (by classes the CSP allows), and says its percentage.
    page.goto(f"{live_server.url}/admin/consensus/reviewchunk/{chunk.pk}/change/")
    shaded = page.locator(".word-confidence .word").first
    assert shaded.get_attribute("title").endswith("%")
    assert shaded.evaluate("el => getComputedStyle(el).borderRadius") == "3px"
