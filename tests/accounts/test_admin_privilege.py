"""Least privilege in the admin: staff try every escalation path (their own change
form with the privilege fields, another user's, a superuser's, the set-password
form, the add form, the auth and token admins) and nothing changes."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts.models import STAFF_PERMISSIONS, User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ESCALATION = {
    "is_superuser": "on",
    "is_staff": "on",
}


@pytest.fixture
def staff(db):
    return UserFactory(username="staffer", role=User.Role.STAFF)


@pytest.fixture
def staff_client(client_logged_in_as, staff):
    return client_logged_in_as(staff)


@pytest.fixture
def root(db):
    return UserFactory(
        username="root", role=User.Role.STAFF, is_superuser=True, is_staff=True
    )


@pytest.fixture
def group(db):
    group = Group.objects.create(name="everything")
    group.permissions.set(Permission.objects.all())
    return group


def change_url(user) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def password_url(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def form_data(user, **extra) -> dict:
    """The change form's fields as the page shows them, plus ``extra``."""
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "role": user.role,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        **extra,
    }


def privileges(user) -> tuple:
    user.refresh_from_db()
    return (
        user.role,
        user.is_staff,
        user.is_superuser,
        list(user.groups.values_list("name", flat=True)),
        list(user.user_permissions.values_list("codename", flat=True)),
    )


def test_staff_cannot_make_themselves_superuser(staff_client, staff, group):
    # Given staff POSTing their own change form with every privilege field set
    data = form_data(
        staff,
        **ESCALATION,
        groups=[group.pk],
        user_permissions=list(Permission.objects.values_list("pk", flat=True)[:5]),
        first_name="Sam",
    )
    response = staff_client.post(change_url(staff), data)
    # Then the form saves what staff may change (the name), and nothing else
    assert response.status_code == 302
    assert privileges(staff) == ("staff", True, False, [], [])
    assert staff.first_name == "Sam"


def test_staff_cannot_drop_their_own_staff_flag_or_keep_another_role_s(
    staff_client, staff
):
    # Given staff POSTing their own form without is_staff (the box unticked)
    response = staff_client.post(change_url(staff), form_data(staff))
    # Then is_staff still follows the staff role
    assert response.status_code == 302
    assert privileges(staff) == ("staff", True, False, [], [])


def test_staff_cannot_give_a_seller_admin_access_or_superuser(
    staff_client, seller, group
):
    response = staff_client.post(
        change_url(seller), form_data(seller, **ESCALATION, groups=[group.pk])
    )
    assert response.status_code == 302
    assert privileges(seller) == ("seller", False, False, [], [])


def test_staff_do_not_see_the_privilege_fields(staff_client, staff, seller):
    for user in (staff, seller):
        page = staff_client.get(change_url(user))
        assert page.status_code == 200
        html = page.content.decode()
        for field in ("is_superuser", "is_staff", "groups", "user_permissions"):
            assert f'name="{field}"' not in html
    # and not another user's set-password link
    assert password_url(seller) not in staff_client.get(change_url(seller)).text
    assert (
        "is_superuser"
        not in staff_client.get(reverse("admin:accounts_user_changelist"))
        .content.decode()
        .split('id="changelist-filter"')[-1]
    )


def test_superusers_still_see_and_set_the_privilege_fields(
    client_logged_in_as, root, seller
):
    client = client_logged_in_as(root)
    assert 'name="is_superuser"' in client.get(change_url(seller)).text
    response = client.post(change_url(seller), form_data(seller, is_staff="on"))
    assert response.status_code == 302
    assert privileges(seller) == ("seller", True, False, [], [])


def test_staff_cannot_set_another_user_s_password(staff_client, seller, root):
    for user in (seller, root):
        before = User.objects.get(pk=user.pk).password
        page = staff_client.get(password_url(user))
        posted = staff_client.post(
            password_url(user),
            {
                "password1": "Taken-over-2026!",
                "password2": "Taken-over-2026!",
                "set_usable_password": "true",
            },
        )
        assert (page.status_code, posted.status_code) == (403, 403)
        assert User.objects.get(pk=user.pk).password == before


def test_staff_change_their_own_password_on_the_page_that_asks_for_it(
    staff_client, staff
):
    before = staff.password
    # Given staff POSTing the admin's set-password form for themselves
    response = staff_client.post(
        password_url(staff),
        {"password1": "Another-one-2026!", "password2": "Another-one-2026!"},
    )
    # Then they are sent to the password change page (current password asked)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:password_change")
    assert User.objects.get(pk=staff.pk).password == before
    # where the right current password changes it
    changed = staff_client.post(
        reverse("admin:password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "Another-one-2026!",
            "new_password2": "Another-one-2026!",
        },
    )
    assert changed.status_code == 302
    assert User.objects.get(pk=staff.pk).check_password("Another-one-2026!")


def test_staff_cannot_change_a_superuser(staff_client, root):
    before = privileges(root)
    response = staff_client.post(
        change_url(root), form_data(root, is_active="", email="mine@example.com")
    )
    assert response.status_code == 403
    root.refresh_from_db()
    assert (root.is_active, root.email, privileges(root)) == (
        True,
        "root@example.com",
        before,
    )
    # they may still read it
    assert staff_client.get(change_url(root)).status_code == 200


def test_a_user_added_by_staff_gets_no_privilege(staff_client, group):
    response = staff_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newcomer",
            "usable_password": "true",
            "password1": "Newcomer-pass-2026!",
            "password2": "Newcomer-pass-2026!",
            "email": "newcomer@example.com",
            "role": "seller",
            **ESCALATION,
            "groups": [group.pk],
        },
    )
    assert response.status_code == 302
    assert privileges(User.objects.get(username="newcomer")) == (
        "seller",
        False,
        False,
        [],
        [],
    )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/auth/group/",
        "/admin/auth/group/add/",
        "/admin/token_blacklist/outstandingtoken/",
        "/admin/token_blacklist/blacklistedtoken/",
    ],
)
def test_staff_cannot_reach_groups_or_tokens(staff_client, url):
    assert staff_client.get(url).status_code == 403


def test_staff_cannot_delete_users(staff_client, seller):
    response = staff_client.post(
        reverse("admin:accounts_user_delete", args=[seller.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert User.objects.filter(pk=seller.pk).exists()


def test_the_staff_role_holds_exactly_its_permissions(staff):
    # Every permission of the role exists (no typo), and the role holds those only
    existing = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.values_list(
            "content_type__app_label", "codename"
        )
    }
    assert STAFF_PERMISSIONS - existing == set()
    held = {perm for perm in existing if staff.has_perm(perm)}
    assert held == STAFF_PERMISSIONS
    assert "accounts.delete_user" not in held
    assert "auth.change_group" not in held
    # A deactivated staff member holds none
    staff.is_active = False
    assert {perm for perm in existing if staff.has_perm(perm)} == set()
