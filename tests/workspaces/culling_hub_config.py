"""Hub config of the culling test: workspaces idle for a few seconds are stopped."""

c = get_config()  # noqa: F821 - provided by the config loader

c.MLLab.idle_timeout = 6
c.MLLab.idle_cull_interval = 2
