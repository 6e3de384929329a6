from django.contrib.auth.models import AbstractUser
from django.db import models


def _permissions(app_label: str, actions: str, *model_names: str) -> set[str]:
    return {f"{app_label}.{a}_{m}" for a in actions.split() for m in model_names}


# What the staff role may do, as Django permissions ("app_label.action_model"): what
# the admin pages staff use need, and no more. Nothing on auth (groups, permissions)
# or on the token blacklist; users are never deleted (deactivated instead); history
# rows (audit, ML, task results, log-in records) are read only. Superusers have every
# permission; the user admin keeps the privilege fields (is_superuser, is_staff,
# groups, permissions), superusers' rows and other users' passwords to superusers
# (accounts/admin.py).
STAFF_PERMISSIONS = frozenset(
    _permissions("accounts", "view add change", "user")
    | _permissions("audit", "view", "auditevent")
    | _permissions("catalog", "view add change", "category")
    | _permissions("catalog", "view change delete", "product")
    | _permissions(
        "ml",
        "view",
        "modelversion",
        "modelactivation",
        "trainingrun",
        "prediction",
        "datasetreset",
        "metricsnapshot",
        "alert",
        "sellerlabelreview",
    )
    # Beat's schedules are edited here (times, on/off); no new or deleted tasks.
    | _permissions("django_celery_beat", "view change", "periodictask")
    | _permissions(
        "django_celery_beat",
        "view add change",
        "crontabschedule",
        "intervalschedule",
        "clockedschedule",
        "solarschedule",
    )
    | _permissions("django_celery_results", "view", "taskresult", "groupresult")
    # Unlocking a locked-out user deletes their access attempts.
    | _permissions("axes", "view delete", "accessattempt")
    | _permissions("axes", "view", "accesslog", "accessfailurelog")
)
STAFF_APP_LABELS = frozenset(perm.split(".")[0] for perm in STAFF_PERMISSIONS)


class User(AbstractUser):
    """A platform user. The role decides what the user may do; Django's ``is_staff``
    flag
    (admin access) follows the ``staff`` role and is kept in step by the services."""

    class Role(models.TextChoices):
        SELLER = "seller", "Seller"
        STAFF = "staff", "Staff"
        INTEGRATOR = "integrator", "Integrator"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.SELLER)
    # The generation of the user's API tokens: each token carries the number it was
    # issued with (its ``token_version`` claim; none: 0) and is refused once this is
    # higher. Incremented when the password changes and at log-out
    # (accounts.services.user_tokens_revoke).
    token_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj=None) -> bool:
        # Staff run the platform: the role's permissions (STAFF_PERMISSIONS), without
        # being superusers or managing per-user permission rows.
        if self._is_platform_staff_member and perm in STAFF_PERMISSIONS:
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
