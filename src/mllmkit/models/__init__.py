"""mllmkit.models."""
