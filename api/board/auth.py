"""`POST /api/token/`: username and password for an API token, throttled per address."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.settings import api_settings

from api.board.serializers import LoginSerializer
from api.board.throttling import LoginThrottle

__all__ = ["TokenLoginView"]


class TokenLoginView(ObtainAuthToken):
    """DRF's token login with the `login` rate (API_THROTTLE_LOGIN).

    DRF's own view has no throttle at all; a password endpoint without one invites
    guessing. Every attempt counts, right or wrong: past the rate, even the right
    password gets 429 until the window moves on.
    """

    throttle_classes = [LoginThrottle]
    serializer_class = LoginSerializer
    # DRF's view names its own (stock) parsers; the API's bounded ones instead.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
