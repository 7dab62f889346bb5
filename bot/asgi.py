"""ASGI entry point for uvicorn (Procfile `web`)."""

from bot.app import create_app
from config.settings import startup_settings

startup_settings()  # a configuration mistake: one clear line, no traceback
app = create_app()
