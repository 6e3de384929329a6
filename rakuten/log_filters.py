"""Logging filters named in ``LOGGING``."""

import logging


class ClientErrorWithoutTraceback(logging.Filter):
    """Django logs a refused request (403 PermissionDenied, 400 SuspiciousOperation,
    404 Http404) as a WARNING of ``django.request`` *with* the exception's traceback:
    an ordinary refusal then reads like a crash in the log. This filter keeps the
    record (message, path, status) and drops the traceback of every 4xx; a 5xx keeps
    it."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
