"""Alembic's environment for this project's migrations, run by ``carboy db``.

carboy builds Alembic's configuration in memory and hands it the app's
``Database``: the engine to migrate, and the metadata the models are
compared against (``Database(metadata=...)``, every ``Model`` by default).
The migrations of installed batteries (Auth) run beside this project's,
from the batteries' own folders, and their tables are left out of
``makemigrations`` by the ``include_object`` in ``options``.
Change ``options`` below as Alembic documents; to leave more tables alone,
wrap ``options.get("include_object")`` rather than replace it.
"""

from __future__ import annotations

from alembic import context

from carboy.db.migrations import configure_options, connect, database_from

config = context.config
database = database_from(config)
options = configure_options(config, database)

if context.is_offline_mode():
    context.configure(
        url=database.urls.sync,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **options,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    with connect(database) as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
