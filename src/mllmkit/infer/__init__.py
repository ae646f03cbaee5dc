"""mllmkit.infer."""
