"""Roles: granted by one service, from the admin's actions and its user form alike.

A user holds exactly the roles of their groups; superusers hold every role.
Staff status only opens the admin, and follows the reviewer role.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from contributors.models import User
from contributors.services import user_set_roles
from shrutik.permissions import CONTRIBUTOR, RESEARCHER, REVIEWER, user_has_role

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/contributors/user/"


def groups_of(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


# --- The service -------------------------------------------------------------------


def test_granting_reviewer_opens_the_admin_and_grants_nothing_else(contributor):
    assert not contributor.is_staff
    user_set_roles(user=contributor, roles={CONTRIBUTOR, REVIEWER})
    user = fresh(contributor)
    assert groups_of(user) == {CONTRIBUTOR, REVIEWER}
    assert user.is_staff and not user.is_superuser
    assert user_has_role(user, REVIEWER) and user_has_role(user, CONTRIBUTOR)
    assert not user_has_role(user, RESEARCHER)


def test_a_researcher_does_not_get_the_admin(contributor):
    user_set_roles(user=contributor, roles={CONTRIBUTOR, RESEARCHER})
    user = fresh(contributor)
    assert groups_of(user) == {CONTRIBUTOR, RESEARCHER}
    assert not user.is_staff
    assert user_has_role(user, RESEARCHER) and not user_has_role(user, REVIEWER)


def test_keeping_only_the_contributor_role_closes_the_admin(contributor):
    user_set_roles(user=contributor, roles={CONTRIBUTOR, REVIEWER, RESEARCHER})
    assert fresh(contributor).is_staff
    user_set_roles(user=contributor, roles={CONTRIBUTOR})
    user = fresh(contributor)
    assert groups_of(user) == {CONTRIBUTOR}
    assert not user.is_staff
    assert not user_has_role(user, REVIEWER) and not user_has_role(user, RESEARCHER)


def test_a_superuser_holds_every_role_and_stays_staff(make_user):
    admin = make_user(is_staff=True, is_superuser=True)
    user_set_roles(user=admin, roles={CONTRIBUTOR})
    admin = fresh(admin)
    assert admin.is_staff
    assert groups_of(admin) == {CONTRIBUTOR}
    assert all(user_has_role(admin, role) for role in (CONTRIBUTOR, REVIEWER, RESEARCHER))


def test_staff_status_alone_grants_no_role(contributor):
    # Not a state the product makes (user_set_roles would clear it), but an
    # account edited by hand must still get nothing from it.
    User.objects.filter(pk=contributor.pk).update(is_staff=True)
    user = fresh(contributor)
    assert not user_has_role(user, REVIEWER) and not user_has_role(user, RESEARCHER)


def test_unknown_roles_are_refused_and_nothing_changes(contributor):
    with pytest.raises(ValueError, match="Unknown roles: admin"):
        user_set_roles(user=contributor, roles={CONTRIBUTOR, REVIEWER, "admin"})
    user = fresh(contributor)
    assert groups_of(user) == {CONTRIBUTOR} and not user.is_staff


def test_groups_that_are_not_roles_are_kept(contributor):
    translators = Group.objects.create(name="translators")
    contributor.groups.add(translators)
    user_set_roles(user=contributor, roles={REVIEWER})
    assert groups_of(fresh(contributor)) == {"translators", REVIEWER}


def test_a_role_checked_earlier_on_the_same_instance_is_not_stale(contributor):
    assert not user_has_role(contributor, RESEARCHER)  # caches the roles on the instance
    user_set_roles(user=contributor, roles={CONTRIBUTOR, RESEARCHER})
    assert user_has_role(contributor, RESEARCHER)


# --- The admin's actions, posted to the changelist as an admin does -------------------


def act(admin_client, action: str, *users: User):
    response = admin_client.post(
        CHANGELIST, {"action": action, "_selected_action": [u.pk for u in users]}
    )
    assert response.status_code == 302, response.content[:300]
    return response


def test_the_grant_reviewer_action_makes_reviewers(admin_client, make_user):
    one, two = make_user(), make_user(roles=[CONTRIBUTOR, RESEARCHER])
    act(admin_client, "make_reviewer", one, two)
    one, two = fresh(one), fresh(two)
    assert groups_of(one) == {CONTRIBUTOR, REVIEWER} and one.is_staff
    # The role is added to what they hold, not put in its place.
    assert groups_of(two) == {CONTRIBUTOR, RESEARCHER, REVIEWER} and two.is_staff


def test_the_grant_researcher_action_makes_researchers_without_the_admin(admin_client, make_user):
    user = make_user()
    act(admin_client, "make_researcher", user)
    user = fresh(user)
    assert groups_of(user) == {CONTRIBUTOR, RESEARCHER}
    assert not user.is_staff


def test_the_reset_action_takes_every_elevated_role_and_the_admin_away(
    admin_client, admin_user, make_user
):
    user = make_user(roles=[CONTRIBUTOR, REVIEWER, RESEARCHER])
    assert user.is_staff
    act(admin_client, "remove_elevated_roles", user, admin_user)
    user = fresh(user)
    assert groups_of(user) == {CONTRIBUTOR}
    assert not user.is_staff
    assert not user_has_role(user, REVIEWER) and not user_has_role(user, RESEARCHER)
    # An admin selected with them keeps the admin: superusers stay staff.
    assert fresh(admin_user).is_staff


def test_a_reviewer_cannot_grant_roles(client, make_user):
    reviewer = make_user(roles=[CONTRIBUTOR, REVIEWER])
    target = make_user()
    client.force_login(reviewer)
    response = client.post(
        CHANGELIST, {"action": "make_researcher", "_selected_action": [target.pk]}
    )
    assert response.status_code == 403
    assert groups_of(fresh(target)) == {CONTRIBUTOR}


# --- The admin's user form ---------------------------------------------------------


def form_data(page) -> dict:
    """What the change form posts back unchanged: its fields and its inlines'
    management forms, as the browser would send them."""
    form = page.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled or value in (None, False):
            continue  # an unticked box is not sent
        data[name] = value
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    return data


def test_ticking_the_reviewer_group_on_the_user_form_opens_the_admin(admin_client, make_user):
    user = make_user()
    url = f"{CHANGELIST}{user.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "is_staff" not in page.context["adminform"].form.fields  # shown, not edited
    data = form_data(page)
    reviewer_group = Group.objects.get(name=REVIEWER)
    data["groups"] = [*data.get("groups", []), reviewer_group.pk]
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = fresh(user)
    assert groups_of(user) == {CONTRIBUTOR, REVIEWER} and user.is_staff

    data["groups"] = [Group.objects.get(name=CONTRIBUTOR).pk]
    assert admin_client.post(url, data).status_code == 302
    user = fresh(user)
    assert groups_of(user) == {CONTRIBUTOR} and not user.is_staff
