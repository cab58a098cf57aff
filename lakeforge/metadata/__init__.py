"""The metadata store: schema, migrations, connections and typed repositories."""
