"""PostgreSQL: models, migrations, connection, named queries."""
