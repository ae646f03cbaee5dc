"""mllmkit.convert."""
