"""Signal receivers of accounts (connected in ``AccountsConfig.ready``): a password
change or a log-out revokes the user's API tokens, whatever the path (the password
change page, the admin, ``manage.py changepassword``, the web or admin log-out)."""

from accounts.selectors import user_password_differs_from_stored
from accounts.services import user_tokens_revoke


def user_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw:
        return  # loading a fixture
    if update_fields is not None and (
        "password" not in update_fields or set(update_fields) == {"password"}
    ):
        # Not the password; or the password alone: Django re-hashing the same
        # password at log-in (a hasher upgrade), which is not a change.
        return
    if user_password_differs_from_stored(instance):
        # A full save writes the new token_version with the new password.
        user_tokens_revoke(user=instance, save=update_fields is not None)


def user_logged_out(sender, request, user, **kwargs):
    if user is not None:
        user_tokens_revoke(user=user)
