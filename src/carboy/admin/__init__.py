"""carboy's admin battery: list, search, filter and act on an app's models in a browser.

::

    from carboy import Carboy
    from carboy.admin import Admin, ModelAdmin
    from carboy.auth import Auth
    from carboy.db import Database

    admin = Admin()
    app = Carboy(extensions=[Database(), Auth(), admin])

    @admin.register(Post)
    class PostAdmin(ModelAdmin):
        list_display = ("title", "author.name", "is_published")
        search_fields = ("title", "author.name")
        list_filter = ("is_published", "author")

Only active staff users get in, at ``/admin/``; each model's permissions
decide what they see and do.
"""

from __future__ import annotations

from carboy.admin.extension import Admin
from carboy.admin.options import DELETE_SELECTED, Inline, ModelAdmin, action, display

__all__ = ["DELETE_SELECTED", "Admin", "Inline", "ModelAdmin", "action", "display"]
