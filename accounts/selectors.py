"""Reads on users."""

from django.db.models import QuerySet

from accounts.models import User


def user_list() -> QuerySet[User]:
    return User.objects.order_by("username")


def staff_email_list() -> list[str]:
    return list(
        User.objects.filter(role=User.Role.STAFF, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )


# The claim that carries the token's generation (User.token_version).
TOKEN_VERSION_CLAIM = "token_version"


def user_token_is_revoked(*, user: User, claims) -> bool:
    """Whether an API token of ``user`` with these claims was revoked: issued before
    the user's last password change or log-out (an older ``token_version``; a token
    without the claim is of generation 0)."""
    return int(claims.get(TOKEN_VERSION_CLAIM, 0)) < user.token_version


def user_password_differs_from_stored(user: User) -> bool:
    """Whether ``user`` (about to be saved) has another password hash than the one
    stored: its password is being changed."""
    if user.pk is None:
        return False
    stored = User.objects.filter(pk=user.pk).values_list("password", flat=True).first()
    return stored is not None and stored != user.password
