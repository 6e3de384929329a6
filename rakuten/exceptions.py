"""Domain errors raised by services. Interfaces map them to a form error, an HTTP
400/404/409
or a one-line command failure; they never surface as a 500."""


class ApplicationError(Exception):
    """A request the platform understood but refuses, with a message for the user."""

    code = "invalid"

    def __init__(self, message: str, *, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    code = "not_found"


class ConflictError(ApplicationError):
    code = "conflict"
