"""WeChat protocol code: formats, signatures, crypto and API clients; no business rules."""
