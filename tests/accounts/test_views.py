import pytest
from django.contrib.auth import SESSION_KEY, get_user
from django.urls import reverse

from accounts.models import User

NEW_PASSWORD = "Blue-Harbour-71"


def _logged_in_user(client):
    return get_user(client)


@pytest.mark.django_db
def test_signup_page_shows_the_form(client):
    # When a visitor opens the sign-up page
    response = client.get("/accounts/signup/")
    # Then the form is shown
    assert response.status_code == 200
    assert b"Create a seller account" in response.content
    assert b'name="username"' in response.content
    assert b'name="password2"' in response.content


@pytest.mark.django_db
def test_signup_creates_a_seller_and_logs_them_in(client):
    # Given a visitor
    # When they sign up
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newseller",
            "email": "new@example.com",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    # Then a seller exists, is logged in and lands on the home page
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    user = User.objects.get()
    assert (user.username, user.email, user.role, user.is_staff) == (
        "newseller",
        "new@example.com",
        "seller",
        False,
    )
    assert user.check_password(NEW_PASSWORD) is True
    assert client.session[SESSION_KEY] == str(user.pk)


@pytest.mark.django_db
def test_signup_with_mismatched_passwords_creates_nothing(client):
    # When the two passwords differ
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newseller",
            "email": "new@example.com",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD + "x",
        },
    )
    # Then the form is shown again with the error, no user exists, nobody logged in
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert User.objects.count() == 0
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_signup_with_a_weak_password_creates_nothing(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newseller",
            "email": "",
            "password1": "12345678",
            "password2": "12345678",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password2"] == [
        "This password is too common.",
        "This password is entirely numeric.",
    ]
    assert User.objects.count() == 0


def test_signup_refuses_a_taken_username(client, seller):
    # Given an existing seller
    # When someone signs up with the same username in another case
    response = client.post(
        "/accounts/signup/",
        {
            "username": "SELLER",
            "email": "",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    # Then it is refused and only the original user exists
    assert response.status_code == 200
    assert response.context["form"].errors
    assert list(User.objects.values_list("username", flat=True)) == ["seller"]
    assert SESSION_KEY not in client.session


def test_signup_redirects_a_logged_in_user_home(client_logged_in_as, seller):
    client = client_logged_in_as(seller)
    response = client.get("/accounts/signup/")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_login_with_the_right_password(client, seller):
    # Given a seller
    # When they log in with their password
    response = client.post(
        "/accounts/login/", {"username": "seller", "password": "pass-12345!"}
    )
    # Then they are logged in and sent home
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert _logged_in_user(client) == seller


def test_login_with_a_wrong_password_is_refused(client, seller):
    # When a seller logs in with a wrong password
    response = client.post(
        "/accounts/login/", {"username": "seller", "password": "wrong-password"}
    )
    # Then the form is shown again and nobody is logged in
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert _logged_in_user(client).is_authenticated is False


def test_logout_by_post(client, seller):
    # Given a logged-in seller
    client.force_login(seller)
    # When they log out (POST)
    response = client.post("/accounts/logout/")
    # Then the session is gone
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert _logged_in_user(client).is_authenticated is False


def test_logout_by_get_is_refused(client, seller):
    client.force_login(seller)
    response = client.get("/accounts/logout/")
    assert response.status_code == 405
    assert _logged_in_user(client) == seller


def test_password_change(client_logged_in_as, seller):
    # Given a logged-in seller
    client = client_logged_in_as(seller)
    # When they change their password
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "pass-12345!",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    # Then the new password works, the old one no longer does, they stay logged in
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change_done")
    seller.refresh_from_db()
    assert seller.check_password(NEW_PASSWORD) is True
    assert seller.check_password("pass-12345!") is False
    assert _logged_in_user(client) == seller


def test_password_change_with_a_wrong_old_password_changes_nothing(
    client_logged_in_as, seller
):
    client = client_logged_in_as(seller)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "not-my-password",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    seller.refresh_from_db()
    assert seller.check_password("pass-12345!") is True


@pytest.mark.django_db
def test_password_change_needs_a_login(client):
    response = client.get("/accounts/password/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/password/"
