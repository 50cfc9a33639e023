"""The ``evalstack`` command line: one module per command, loaded lazily."""
