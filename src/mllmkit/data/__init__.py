"""mllmkit.data."""
