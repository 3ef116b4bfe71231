"""pump.io's error shape: a JSON object with one "error" string."""

from __future__ import annotations

from gateways.kit.refusal import Refusal

# pump.io refusals carry a status and a message only; the gateway's error style renders `{"error": message}`.
PumpError = Refusal
