"""Typed settings, read from ``CARBOY_*`` environment variables and ``.env``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """The settings of a carboy app.

    Each field is read from the environment variable of its name with the
    ``CARBOY_`` prefix (``CARBOY_DEBUG=1``), or from a ``.env`` file in the
    working directory. Subclass it to add your own fields.

    Example::

        class MySettings(Settings):
            feature_flag: bool = False

        app = Carboy(settings=MySettings())
    """

    model_config = SettingsConfigDict(
        env_prefix="CARBOY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    debug: bool = False
    """Show tracebacks to the client and reload on code changes. Never in production."""

    secret_key: SecretStr | None = None
    """The key that signs cookies and tokens. Keep it secret, and out of the code."""

    allowed_hosts: list[str] = Field(default_factory=list)
    """The host names this site serves, checked against the Host header."""
