"""ASGI entry point for uvicorn (Procfile `web`)."""

from bot.app import create_app

app = create_app()
