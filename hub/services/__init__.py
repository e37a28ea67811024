"""Domain rules, one module per aggregate. No aiohttp, no arq: callers pass plain values."""
