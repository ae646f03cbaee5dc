"""mllmkit.serve."""
