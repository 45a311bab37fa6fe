"""`POST /api/token/`: username and password for an API token, throttled per client."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle


class TokenLoginView(ObtainAuthToken):
    """DRF's token login, with the `login` rate (API_THROTTLE_LOGIN) per client address.

    DRF's own view has no throttle at all; a password endpoint without one invites
    guessing. Every attempt counts, right or wrong: past the rate, even the right
    password gets 429 until the window moves on.
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"
