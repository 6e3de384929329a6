from django.contrib.auth.models import AbstractUser
from django.db import models


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

    @property
    def is_seller(self) -> bool:
        return self.role == self.Role.SELLER

    @property
    def is_platform_staff(self) -> bool:
        return self.role == self.Role.STAFF or self.is_superuser
