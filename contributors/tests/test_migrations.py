"""Migrations that existing data could break."""

from __future__ import annotations

import pytest
from django.db import connection

from shrutik.testing import migrate as _migrate

BEFORE = [("contributors", "0003_reliabilityscore")]
AFTER = [("contributors", "0004_username_unique_ignoring_case")]


@pytest.mark.django_db(transaction=True)
def test_usernames_differing_only_in_case_stop_the_migration_with_the_accounts_named():
    User = _migrate(BEFORE).get_model("contributors", "User")
    try:
        rina = User.objects.create(username="Rina", password="!")
        twin = User.objects.create(username="rINA", password="!")
        User.objects.create(username="someone", password="!")

        with pytest.raises(RuntimeError) as refused:
            _migrate(AFTER)
        message = str(refused.value)
        assert f"'Rina' (id {rina.pk}), 'rINA' (id {twin.pk})" in message
        assert "someone" not in message
        assert "Rename all but one" in message

        User.objects.filter(pk=twin.pk).update(username="rina-2")
        _migrate(AFTER)
    finally:
        User.objects.filter(username__in=["Rina", "rINA"]).delete()
        _migrate()
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "contributors_user")
    assert "username_unique_ignoring_case" in constraints
