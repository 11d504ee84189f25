"""The catalog: its tables, engines, migrations and the queries every wing shares."""
