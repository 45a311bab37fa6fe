"""App config for the realtime side of Django: tickets, outbox, publisher."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api.realtime"
    label = "realtime"
    verbose_name = "Realtime events"

    def ready(self) -> None:
        from api.realtime import checks  # noqa: F401  (registers the deploy check)
