"""mllmkit.eval."""
