"""A faithful local WeChat: WeChat's three API hosts, its pushes and a test-control API.

`world` configures the accounts, `app.create_simulator_app` serves them; see the modules.
"""
