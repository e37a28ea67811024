"""HTTP endpoints of the hub itself (health, metrics, and later the mini-program and open APIs)."""
