"""Widgets of the walk-through, one per file."""
