from django.contrib.auth.hashers import check_password, make_password

import rakuten.settings.base as base_settings

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_real_environments_hash_passwords_with_argon2_first():
    # Given the settings every real environment builds on
    # Then Argon2 is the preferred hasher (PBKDF2 only reads older hashes)
    assert base_settings.PASSWORD_HASHERS == [
        ARGON2,
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def test_argon2_hasher_is_usable(settings):
    # Given the production hashers
    settings.PASSWORD_HASHERS = base_settings.PASSWORD_HASHERS
    # When a password is hashed
    encoded = make_password("pass-12345!")
    # Then the argon2 library is installed and the hash verifies
    assert encoded.startswith("argon2$argon2id$")
    assert check_password("pass-12345!", encoded) is True
    assert check_password("wrong", encoded) is False
