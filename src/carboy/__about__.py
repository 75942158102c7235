"""carboy's version, read by the build backend and by ``carboy --version``."""

__version__ = "0.1.0"
