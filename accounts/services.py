"""Writes on users."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

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
