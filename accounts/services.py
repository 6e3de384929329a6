"""Writes on users."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from rakuten.exceptions import ApplicationError


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    email: str = "",
    role: str = User.Role.SELLER,
    validate: bool = True,
) -> User:
    """Create a user with a role; staff get admin access (``is_staff``)."""
    if role not in User.Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", extra={"role": [role]})
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(
            "A user with that username already exists.",
            extra={"username": ["A user with that username already exists."]},
        )
    user = User(
        username=username, email=email, role=role, is_staff=role == User.Role.STAFF
    )
    if validate:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ApplicationError(
                " ".join(exc.messages), extra={"password": exc.messages}
            ) from exc
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def user_ensure_demo(*, username: str, password: str, role: str) -> tuple[User, bool]:
    """Create or reset a demo account (used by ``make run``); returns (user,
    created)."""
    user, created = User.objects.get_or_create(
        username=username, defaults={"role": role, "email": f"{username}@example.com"}
    )
    user.role = role
    user.is_staff = role == User.Role.STAFF
    user.set_password(password)
    user.save()
    return user, created


def user_tokens_revoke(*, user: User, save: bool = True) -> int:
    """Invalidate every API token of ``user``: access and refresh tokens issued until
    now are refused (``token_version`` goes up; checked by
    ``accounts.authentication.JWTAuthentication`` and the token views), and the
    outstanding refresh tokens are blacklisted (listed in the admin). Called when the
    password changes and at log-out. Returns how many refresh tokens were
    blacklisted. With ``save=False`` the caller saves ``user`` (the pre_save
    receiver, whose save writes the new version)."""
    from rest_framework_simplejwt.token_blacklist.models import (
        BlacklistedToken,
        OutstandingToken,
    )

    if save:
        User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
        user.token_version = (
            User.objects.filter(pk=user.pk)
            .values_list("token_version", flat=True)
            .get()
        )
    else:
        user.token_version += 1
    outstanding = list(
        OutstandingToken.objects.filter(
            user_id=user.pk,
            expires_at__gt=timezone.now(),
            blacklistedtoken__isnull=True,
        )
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding],
        ignore_conflicts=True,
    )
    return len(outstanding)
