"""One thin module per WeChat callback source."""
