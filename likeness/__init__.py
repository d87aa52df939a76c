"""likeness."""
