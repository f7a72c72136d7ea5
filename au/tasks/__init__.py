"""Tasks: the head, loss, metrics and report sections of AU occurrence, emotion, intensity."""
