"""The browser client in web/ is served at `/`; without it `/` is a plain 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client


@pytest.mark.django_db
def test_index_and_modules_served_from_web_root(tmp_path: Path, settings) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>Watercooler</title>")
    (tmp_path / "app.js").write_text("export const ok = true;\n")
    settings.WHITENOISE_ROOT = tmp_path
    browser = Client()  # a new client builds its middleware from the current settings
    index = browser.get("/")
    assert index.status_code == 200
    assert b"Watercooler" in b"".join(index.streaming_content)
    script = browser.get("/app.js")
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]


@pytest.mark.django_db
def test_root_without_index_is_404(tmp_path: Path, settings) -> None:
    settings.WHITENOISE_ROOT = tmp_path
    assert Client().get("/").status_code == 404
