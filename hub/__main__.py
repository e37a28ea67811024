"""`python -m hub`: the same as the `wxhub` command."""

from hub.cli.main import main

main()
