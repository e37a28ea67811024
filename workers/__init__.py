"""arq worker tasks, one module per effect."""
