"""Logging in and out: `POST /api/token/` (API token, and on request a browser session)
and `/api/auth/session/` (this browser's session: who, its CSRF token, log out).

One login on the board serves every page of the site: the board keeps the token for its
own calls (no CSRF needed: a cross-site page cannot set the Authorization header), and
the session cookie logs the same browser in to the browsable API, the docs and the admin.
Session-authenticated writes need Django's CSRF token, and so does creating a session:
otherwise a foreign page could post its own credentials here and log the victim's
browser in to the attacker's account ("login CSRF").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.middleware.csrf import get_token
from drf_spectacular.authentication import SessionScheme, TokenScheme
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from api.board.serializers import LoginSerializer
from api.board.throttling import LoginThrottle

__all__ = ["SessionView", "TokenLoginView"]


class DocumentedTokenScheme(TokenScheme):
    """`tokenAuth` in the schema, saying where the key comes from (Swagger UI's Authorize)."""

    priority = 0  # over drf-spectacular's own

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {**super().get_security_definition(auto_schema),
                # Markdown: Swagger UI would take a bare <key> for an HTML tag.
                "description": "Enter `Token <key>`: the word Token, a space, the key "
                               "that `POST /api/token/` answers for a username and "
                               "password."}


class DocumentedSessionScheme(SessionScheme):
    """`cookieAuth` in the schema: the browser's session, nothing to enter by hand."""

    priority = 0

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME,
                "description": "This browser's session: log in on the board or at "
                               "/api/auth/login/, and the cookie goes along by itself "
                               "(nothing to enter here). Writes also need the X-CSRFToken "
                               "header, which the docs page adds."}


class TokenLoginSerializer(LoginSerializer):
    """DRF's username + password, and `session`: also log this browser in (needs CSRF)."""

    session = serializers.BooleanField(
        default=False, write_only=True,
        help_text="Also start a Django session in this browser (the browsable API, the "
                  "docs and the admin then know the user). Needs the CSRF token of "
                  "GET /api/auth/session/ in the X-CSRFToken header.")

    class Meta:
        ref_name = "Login"


class TokenLoginView(ObtainAuthToken):
    """Username and password for the user's API token; optionally a session too.

    The token is the user's one API key (`Authorization: Token <key>`), the same for all
    their clients. With `"session": true` the browser is logged in as well; that needs
    the CSRF token (403 without it), like every session-authenticated write.

    Throttled with the `login` rate (API_THROTTLE_LOGIN): DRF's own view has none, and a
    password endpoint without one invites guessing. Every attempt counts, right or wrong:
    past the rate, even the right password gets 429 until the window moves on.
    """

    serializer_class = TokenLoginSerializer
    throttle_classes = [LoginThrottle]
    # DRF's view names its own (stock) parsers; the API's bounded ones instead.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    # A login authenticates nobody: with SessionAuthentication here, a browser already
    # logged in (the admin) would be refused for a missing CSRF token it does not need.
    authentication_classes: list[type] = []

    @extend_schema(
        request=TokenLoginSerializer,
        responses={200: inline_serializer("TokenLogin", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if serializer.validated_data["session"]:
            SessionAuthentication().enforce_csrf(request)  # 403 "CSRF Failed: ..."
            login(request, user)  # also rotates the CSRF token (a new cookie comes back)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class SessionView(APIView):
    """This browser's Django session.

    GET says who it is logged in as (`username` null when nobody) and hands out the CSRF
    token (also set as the `csrftoken` cookie) for the next unsafe request. DELETE logs
    the browser out of the board, the browsable API, the docs and the admin at once.

    Logging out ends the session only: the user's API token is kept, because it is their
    one key, shared by their other browsers, phones and scripts (`peer/`); rotating it
    here would log all of those out. The board forgets it in this browser. A token that
    leaked is revoked in the admin (Auth Token > Tokens).
    """

    authentication_classes = [SessionAuthentication]  # the cookie only, never a token
    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("Session", {
        "username": serializers.CharField(allow_null=True),
        "is_staff": serializers.BooleanField(),
        "csrf_token": serializers.CharField(),
    })})
    def get(self, request: Request) -> Response:
        user = request.user
        return Response({
            "username": user.get_username() if user.is_authenticated else None,
            "is_staff": bool(user.is_authenticated and user.is_staff),
            "csrf_token": get_token(request),
        })

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        # SessionAuthentication has already refused a logged-in session without the CSRF
        # token (403), so a foreign page cannot log the user out; without a session there
        # is nothing to end.
        logout(request)
        return Response(status=204)
