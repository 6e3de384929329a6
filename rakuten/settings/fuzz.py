"""Settings for fuzzing the API on a live server (tools/schemathesis.sh): the test
settings (the database and broker from the environment, fast hashing), with the
request-rate throttles off, so that the fuzzer's requests reach the endpoints instead
of a 429, and access tokens that last the run."""

from datetime import timedelta

from .test import *  # noqa: F403
from .test import REST_FRAMEWORK, SIMPLE_JWT

REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
SIMPLE_JWT = {**SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": timedelta(hours=1)}
