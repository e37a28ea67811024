"""tortoise migrations of the hub app; written by `wxhub makemigrations`."""
