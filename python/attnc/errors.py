"""attnc's errors as Python exceptions: the status code of the C interface and attnc's message."""


class AttncError(Exception):
    """An attnc failure. `code` is AttncError.Code's name ("invalidModel", "usage", ...), `status`
    its number in the C interface, and str() the one-line message the CLI prints."""

    code = "invalidModel"

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        if code is not None:
            self.code = code


class InvalidModelError(AttncError):
    code = "invalidModel"


class UnsupportedError(AttncError):
    code = "unsupported"


class FileError(AttncError, OSError):
    code = "io"


class UsageError(AttncError, ValueError):
    code = "usage"


class VerificationError(AttncError):
    code = "verification"


class BatchFailureError(AttncError):
    code = "batchFailure"


_BY_STATUS = {1: InvalidModelError, 2: UnsupportedError, 3: FileError, 4: UsageError, 5: VerificationError, 6: BatchFailureError}


def check(lib, status):
    """Raises the exception for a failed call's status with this thread's last attnc message."""
    if status == 0:
        return
    message = (lib.attnc_last_error() or b"").decode("utf-8", "replace")
    cls = _BY_STATUS.get(status, AttncError)
    raise cls(message, status=status, code=lib.attnc_status_name(status).decode())
