"""App config for the board (sprints and tasks)."""

from django.apps import AppConfig


class BoardConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api.board"
    label = "board"
    verbose_name = "Scrum board"
