"""mllmkit.judge."""
