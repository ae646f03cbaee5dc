"""mllmkit.world."""
