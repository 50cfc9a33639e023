"""The run store: SQLAlchemy Core tables, Alembic migrations, and export.

Examples:
    >>> from evalstack.store import Store, new_id
    >>> with Store.open("sqlite://") as store:
    ...     store.count_samples(new_id())
    (0, 0)
"""

from evalstack.store.export import export_run
from evalstack.store.ids import new_id
from evalstack.store.sqlstore import Store

__all__ = ["Store", "export_run", "new_id"]
