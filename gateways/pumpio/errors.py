"""pump.io's error shape: a JSON object with one "error" string."""

from __future__ import annotations


class PumpError(Exception):
    """Raised by handlers; the gateway app answers it as `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
