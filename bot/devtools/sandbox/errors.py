"""What the page may be told when an action cannot be done."""


class SandboxError(Exception):
    """An action the page asked for that cannot be done; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
