"""Alembic environment for the evalstack store.

``Store.open`` runs the migrations programmatically and hands its connection over in
``config.attributes["connection"]``. A developer writing a new migration can also run Alembic
by hand, pointing ``script_location`` here and ``sqlalchemy.url`` at a scratch database::

    alembic -x url=sqlite:///scratch.db revision --autogenerate -m "add labels"

New revisions are numbered ``0002``, ``0003``, ... (``--rev-id``) and form one linear chain.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context

from evalstack.store.tables import VERSION_TABLE, metadata


def _configure(**kwargs: Any) -> None:  # forwarded to context.configure as they are
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        compare_type=True,
        **kwargs,
    )


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or context.config.get_main_option("sqlalchemy.url")
    return url or "sqlite:///evalstack-dev.db"


def run_offline() -> None:
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection: sa.Connection) -> None:
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        run_offline()
    elif (conn := context.config.attributes.get("connection")) is not None:
        run_online(conn)
    else:
        engine = sa.create_engine(_url())
        try:
            with engine.begin() as conn:
                run_online(conn)
        finally:
            engine.dispose()


# Alembic executes this file inside a migration command, with ``context.config`` set; an
# import from anywhere else (a doctest collector, say) does nothing.
if hasattr(context, "config"):
    main()
