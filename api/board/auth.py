"""`POST /api/token/`: username and password for an API token, throttled per address."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken

from api.board.throttling import LoginThrottle

__all__ = ["TokenLoginView"]


class TokenLoginView(ObtainAuthToken):
    """DRF's token login with the `login` rate (API_THROTTLE_LOGIN).

    DRF's own view has no throttle at all; a password endpoint without one invites
    guessing. Every attempt counts, right or wrong: past the rate, even the right
    password gets 429 until the window moves on.
    """

    throttle_classes = [LoginThrottle]
