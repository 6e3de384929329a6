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
