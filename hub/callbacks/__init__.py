"""The path of every WeChat callback: verify, parse, record, process, answer, flush."""
