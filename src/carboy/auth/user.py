"""The default user model; imported only when ``Auth()`` is given no other."""

from __future__ import annotations

from carboy.auth.models import AbstractUser

__all__ = ["User"]


class User(AbstractUser):
    """A user of the site: signs in with an e-mail address and a password."""
