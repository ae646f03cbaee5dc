"""mllmkit.backends."""
