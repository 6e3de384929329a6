from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from accounts.models import User

# Only superusers see or change these: the rights a user holds beyond the role.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


def _without(fieldsets, hidden) -> tuple:
    """``fieldsets`` less the ``hidden`` fields (and any fieldset left empty)."""
    kept = []
    for name, options in fieldsets:
        fields = [f for f in options["fields"] if f not in hidden]
        if fields:
            kept.append((name, {**options, "fields": tuple(fields)}))
    return tuple(kept)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Staff manage users within their role (accounts.models.STAFF_PERMISSIONS); only
    superusers see or change the privilege fields, change a superuser's row, or set
    another user's password. Staff change their own password on the password change
    page, which asks for the current one. ``is_staff`` follows the role."""

    list_display = ("username", "email", "role", "is_active", "is_staff", "date_joined")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    fieldsets = DjangoUserAdmin.fieldsets + (("Platform", {"fields": ("role",)}),)
    add_fieldsets = DjangoUserAdmin.add_fieldsets + (
        ("Platform", {"fields": ("email", "role")}),
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        hidden = set(PRIVILEGE_FIELDS)
        if obj is not None and obj.pk != request.user.pk:
            hidden.add("password")  # its link sets the password: superusers only
        return _without(fieldsets, hidden)

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        if request.user.is_superuser:
            return shown
        return tuple(f for f in shown if f not in PRIVILEGE_FIELDS)

    def get_list_filter(self, request):
        shown = super().get_list_filter(request)
        if request.user.is_superuser:
            return shown
        return tuple(f for f in shown if f not in PRIVILEGE_FIELDS)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # a superuser's row is read only to staff
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser or not change:
            # is_staff (admin access) follows the role, as in accounts.services.
            obj.is_staff = obj.role == User.Role.STAFF or obj.is_superuser
        super().save_model(request, obj, form, change)

    def user_change_password(self, request, id, form_url=""):
        # The admin's set-password form does not ask for the current password: only
        # superusers use it. Others go to the password change page for their own.
        if not request.user.is_superuser:
            user = self.get_object(request, unquote(id))
            if user is not None and user.pk == request.user.pk:
                return redirect(f"{self.admin_site.name}:password_change")
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)
