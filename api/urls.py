"""URL table: the REST API under /api/, its schema and docs, the admin.

The browser client (`web/`) is served at `/` by WhiteNoise (see WHITENOISE_ROOT).
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from api.board.auth import SessionView, TokenLoginView
from api.board.views import SprintViewSet, TaskViewSet, UserViewSet
from api.realtime.metrics import metrics_view
from api.realtime.views import SprintEventLogView, SprintTicketView

router = DefaultRouter()
router.register("sprints", SprintViewSet, basename="sprint")
router.register("tasks", TaskViewSet, basename="task")
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("api/token/", TokenLoginView.as_view(), name="api-token"),
    path("api/sprints/<int:pk>/realtime/", SprintTicketView.as_view(), name="sprint-realtime"),
    path("api/sprints/<int:pk>/events/", SprintEventLogView.as_view(), name="sprint-events"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/auth/session/", SessionView.as_view(), name="api-session"),
    path("api/auth/", include("rest_framework.urls")),  # browsable API login/logout
    path("api/", include(router.urls)),
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),  # internal: METRICS_ALLOWED_IPS
]

# Django's own error pages, as JSON under /api/ (api/error_pages.py).
handler400 = "api.error_pages.bad_request"
handler403 = "api.error_pages.permission_denied"
handler404 = "api.error_pages.page_not_found"
handler500 = "api.error_pages.server_error"
