"""The daemon: the supervisor, its children's entry point, status, metrics and systemd glue."""
