"""Data migrations on a database that holds what older releases wrote."""

import pytest

from shrutik.testing import migrate

BEFORE = [("recordings", "0003_recording_rejection_message")]
AFTER = [("recordings", "0004_recording_unique_reading")]


@pytest.mark.django_db(transaction=True)
def test_copies_of_one_upload_made_before_the_constraint_are_set_aside(contributor):
    from recordings.tests.factories import LanguageFactory, make_script

    script = make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")
    try:
        old = migrate(BEFORE).get_model("recordings", "Recording")
        fields = {"contributor_id": contributor.id, "script_id": script.id}
        copies = [old.objects.create(sha256="a" * 64, **fields) for _ in range(3)]
        other = old.objects.create(sha256="b" * 64, **fields)

        Recording = migrate(AFTER).get_model("recordings", "Recording")
        status = dict(Recording.objects.values_list("id", "status"))
        assert status[copies[0].id] == status[other.id] == "uploaded"
        assert [status[c.id] for c in copies[1:]] == ["rejected", "rejected"]
        assert Recording.objects.get(pk=copies[1].id).rejection["message"].startswith("A copy")
    finally:
        migrate()
