"""wxhub: the hub between WeChat and chain-store brands."""
