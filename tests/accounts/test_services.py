import pytest

from accounts.models import User
from accounts.services import user_create
from rakuten.exceptions import ApplicationError


@pytest.mark.django_db
def test_user_create_makes_a_seller_by_default():
    # Given no user
    # When a user is created without a role
    user = user_create(
        username="alice", password="Sunny-Garden-42", email="alice@example.com"
    )
    # Then it is a seller without admin access, with a hashed password
    user.refresh_from_db()
    assert user.username == "alice"
    assert user.email == "alice@example.com"
    assert user.role == "seller"
    assert user.is_seller is True
    assert user.is_staff is False
    assert user.is_platform_staff is False
    assert user.password != "Sunny-Garden-42"
    assert user.check_password("Sunny-Garden-42") is True
    assert str(user) == "alice"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "is_staff"),
    [("seller", False), ("staff", True), ("integrator", False)],
)
def test_user_create_is_staff_follows_the_staff_role(role, is_staff):
    # Given a role
    # When a user is created with it
    user = user_create(username=f"u-{role}", password="Sunny-Garden-42", role=role)
    # Then the role is stored and admin access is granted to staff only
    user.refresh_from_db()
    assert user.role == role
    assert user.is_staff is is_staff
    assert user.is_platform_staff is is_staff


@pytest.mark.django_db
def test_user_create_refuses_a_duplicate_username_whatever_its_case():
    # Given an existing user
    existing = user_create(username="alice", password="Sunny-Garden-42")
    # When another user is created with the same name in another case
    with pytest.raises(ApplicationError) as excinfo:
        user_create(username="ALICE", password="Other-Garden-43")
    # Then it is refused and nothing changed
    assert excinfo.value.message == "A user with that username already exists."
    assert excinfo.value.extra == {
        "username": ["A user with that username already exists."]
    }
    assert list(User.objects.values_list("username", flat=True)) == ["alice"]
    existing.refresh_from_db()
    assert existing.check_password("Sunny-Garden-42") is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "messages"),
    [
        (
            "short1!",
            ["This password is too short. It must contain at least 8 characters."],
        ),
        ("password123", ["This password is too common."]),
        ("5839201746", ["This password is entirely numeric."]),
    ],
)
def test_user_create_refuses_a_weak_password(password, messages):
    # Given no user
    # When a user is created with a weak password
    with pytest.raises(ApplicationError) as excinfo:
        user_create(username="bob", password=password)
    # Then it is refused with the validator's message and no user exists
    assert excinfo.value.message == " ".join(messages)
    assert excinfo.value.extra == {"password": messages}
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_user_create_refuses_a_password_like_the_username():
    with pytest.raises(ApplicationError) as excinfo:
        user_create(username="marketplace", password="marketplace1")
    assert "too similar to the username" in excinfo.value.message
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_user_create_refuses_an_unknown_role():
    # When a user is created with a role that does not exist
    with pytest.raises(ApplicationError) as excinfo:
        user_create(username="eve", password="Sunny-Garden-42", role="admin")
    # Then it is refused and nothing is stored
    assert excinfo.value.message == "Unknown role 'admin'."
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_user_create_without_validation_accepts_any_password():
    # Given validation is off (the sign-up form already validated)
    user = user_create(username="carol", password="123", validate=False)
    # Then the password is stored, hashed
    assert user.check_password("123") is True


def test_fixtures_give_each_role(seller, other_seller, staff_user, integrator):
    # Given the shared fixtures
    # Then each has its role, admin access follows the staff role, password works
    assert (seller.role, seller.is_staff) == ("seller", False)
    assert (other_seller.role, other_seller.is_staff) == ("seller", False)
    assert (staff_user.role, staff_user.is_staff) == ("staff", True)
    assert (integrator.role, integrator.is_staff) == ("integrator", False)
    assert seller.check_password("pass-12345!") is True
