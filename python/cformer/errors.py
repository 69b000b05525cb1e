"""Errors raised by the binding: the library's cf_status and message."""


class CformerError(RuntimeError):
    """A failed cformer call. `status` is the cf_status name ("CF_ERR_NOT_FOUND", ...)."""

    def __init__(self, status, message):
        super().__init__(f"{message} [{status}]")
        self.status = status
        self.message = message


def check(lib, status, err):
    if status != 0:
        name = lib.cf_status_name(status).decode()
        raise CformerError(name, err.message.decode("utf-8", "replace"))
