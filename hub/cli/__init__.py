"""The `wxhub` command line: running processes, migrations and brand set-up."""
