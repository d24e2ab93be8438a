"""The Bangla catalogue is complete, compiled, and used (no browser needed)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "bn" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w+\}")
TRANSLATE_TAG = re.compile(r"""{%\s*translate\s+(["'])(.+?)\1""")


@pytest.fixture(scope="module")
def catalogue() -> polib.POFile:
    return polib.pofile(str(PO))


def test_every_message_has_a_bangla_translation(catalogue):
    untranslated = [
        e.msgid
        for e in catalogue
        if "fuzzy" in e.flags
        or (e.msgid_plural and not all(e.msgstr_plural.values()))
        or (not e.msgid_plural and not e.msgstr.strip())
    ]
    assert not untranslated, untranslated
    assert len(catalogue) > 300


def test_translations_keep_their_placeholders(catalogue):
    for entry in catalogue:
        if entry.msgid_plural:
            continue
        assert sorted(PLACEHOLDER.findall(entry.msgid)) == sorted(
            PLACEHOLDER.findall(entry.msgstr)
        ), entry.msgid


def test_compiled_catalogue_matches_the_po_file(catalogue):
    with MO.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [
        e.msgid for e in catalogue if not e.msgid_plural and compiled.gettext(e.msgid) != e.msgstr
    ]
    assert not stale, f"locale/bn/LC_MESSAGES/django.mo is out of date: {stale[:5]}"


def test_every_translate_tag_in_the_templates_is_in_the_catalogue(catalogue):
    known = {e.msgid for e in catalogue}
    missing = [
        (path.relative_to(ROOT).as_posix(), match.group(2))
        for path in (ROOT / "templates").rglob("*.html")
        for match in TRANSLATE_TAG.finditer(path.read_text())
        if match.group(2) not in known
    ]
    assert not missing, missing


@pytest.mark.django_db
def test_pages_render_in_bangla(client, contributor):
    client.cookies["django_language"] = "bn"
    home = client.get("/").content.decode()
    assert 'lang="bn"' in home
    assert "আপনার ভাষাকে আপনার কণ্ঠ দিন" in home
    client.force_login(contributor)
    profile = client.get("/accounts/profile/").content.decode()
    assert "আমার অ্যাকাউন্ট মুছে ফেলুন" in profile and "প্রদর্শিত নাম" in profile
    assert "Erase my account" not in profile


# ``N_`` marks messages in framework-free modules (translated where shown).
GETTEXT_CALLS = {"_", "gettext", "gettext_lazy", "gettext_noop", "_lazy", "N_"}


def python_messages() -> list[tuple[str, str]]:
    """Every literal message the code marks for translation: (file, msgid)."""
    import ast

    found = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "bench/")) or "/tests/" in relative:
            continue
        for node in ast.walk(ast.parse(path.read_text(), relative)):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in GETTEXT_CALLS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.append((relative, node.args[0].value))
    return found


def test_every_message_marked_in_the_code_is_in_the_catalogue(catalogue):
    known = {e.msgid for e in catalogue}
    messages = python_messages()
    assert len(messages) > 50
    missing = [(path, msgid) for path, msgid in messages if msgid not in known]
    assert not missing, missing
