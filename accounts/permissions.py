"""Role checks for the REST API. Which rows a user sees is the selectors' business;
these only decide whether a role may call an operation at all."""

from rest_framework.permissions import BasePermission

from accounts.models import User


class IsPlatformStaff(BasePermission):
    """Staff (or a superuser): model operations, users, dataset reset."""

    message = "Only staff may do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_platform_staff)


class IsStaffOrIntegrator(BasePermission):
    """Staff and integrators: read-only views over the whole platform."""

    message = "Only staff and integrators may do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_platform_staff or user.role == User.Role.INTEGRATOR)
        )
