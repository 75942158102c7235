"""A blog with its admin: authors, posts, tags and comments on embedded SQLite.

Serve it with the command of README.md in this folder. ``examples.blog.app``
holds the models, the admin's options, the public pages and ``create_app()``.
"""
