"""Measuring detection on labelled footage: ``gridwatch eval`` (labels, replay, scoring)."""
