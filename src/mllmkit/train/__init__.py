"""mllmkit.train."""
