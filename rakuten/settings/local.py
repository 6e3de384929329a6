"""Settings for a developer's machine: ``make run``. Embedded defaults, no servers
needed."""

import os

from .base import *  # noqa: F403
from .base import STATIC_ROOT, VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env(
    "DJANGO_SECRET_KEY", default="local-insecure-key-never-use-in-production-3x9!q"
)

# The embedded defaults (SQLite, broker, media, artefacts) live in var/.
VAR_DIR.mkdir(exist_ok=True)
# WhiteNoise warns on every start when STATIC_ROOT is missing (no collectstatic here).
os.makedirs(str(STATIC_ROOT), exist_ok=True)

# Serve static files from the apps and static/ without collectstatic.
WHITENOISE_USE_FINDERS = True
