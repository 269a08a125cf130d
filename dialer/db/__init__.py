"""PostgreSQL: models, migrations, connection, and `Database`, the one handle on it.

How code reaches the database:

- The engine's hot path (dialer/engine/) runs asyncpg with positional parameters ($1), every
  statement a named constant in dialer/engine/queries.py.
- Everything else (operator commands, reports, export, import, metrics recompute) goes through
  `dialer.db.database.Database`: SQLAlchemy 2 `text()` with named parameters (:name) in
  `Database.transaction()`; raw asyncpg (`Database.raw_transaction()`) only for bulk COPY
  (with the statements that share its staging table) and server-side cursors. LISTEN is the
  engine's alone, on a connection of its own pool (dialer/engine/store.py).
- Every statement is a module-level constant with a one-line comment in its package's
  `queries.py` (dialer/campaigns/queries.py, dialer/contacts/queries.py, ...), never inline;
  SQL shaped by the input (a CSV's column count) is built by a small function there.
"""
