"""Schemathesis hooks for tests/test_fuzz.py: sign pump.io requests with OAuth 1.0a, as a real client would.

Loaded by the schemathesis process through SCHEMATHESIS_HOOKS; the credentials come in FUZZ_OAUTH as
"client_key client_secret token token_secret". Without a signature every pump.io operation would stop at
its 401, and the fuzzing would never reach the handlers.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from requests_oauthlib import OAuth1


def _signer() -> OAuth1 | None:
    parts = os.environ.get("FUZZ_OAUTH", "").split()
    if len(parts) != 4:
        return None
    client_key, client_secret, token, token_secret = parts
    return OAuth1(client_key, client_secret, resource_owner_key=token, resource_owner_secret=token_secret)


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    security = case.operation.definition.raw.get("security") or []
    if any("oauth1" in requirement for requirement in security):
        signer = _signer()
        if signer is not None:
            kwargs["auth"] = signer
