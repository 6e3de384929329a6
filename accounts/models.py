from django.contrib.auth.models import AbstractUser
from django.db import models

# Apps whose every permission the staff role holds.
STAFF_APP_LABELS = frozenset(
    {
        "accounts",
        "audit",
        "catalog",
        "ml",
        "django_celery_beat",
        "django_celery_results",
        "axes",
    }
)


class User(AbstractUser):
    """A platform user. The role decides what the user may do; Django's ``is_staff``
    flag
    (admin access) follows the ``staff`` role and is kept in step by the services."""

    class Role(models.TextChoices):
        SELLER = "seller", "Seller"
        STAFF = "staff", "Staff"
        INTEGRATOR = "integrator", "Integrator"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.SELLER)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj=None) -> bool:
        # Staff run the platform: full rights on its own apps (admin included),
        # without being superusers or managing per-model permission rows.
        if self._is_platform_staff_member and perm.split(".")[0] in STAFF_APP_LABELS:
            return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label: str) -> bool:
        if self._is_platform_staff_member and app_label in STAFF_APP_LABELS:
            return True
        return super().has_module_perms(app_label)

    @property
    def _is_platform_staff_member(self) -> bool:
        return self.is_active and self.role == self.Role.STAFF

    @property
    def is_seller(self) -> bool:
        return self.role == self.Role.SELLER

    @property
    def is_platform_staff(self) -> bool:
        return self.role == self.Role.STAFF or self.is_superuser
