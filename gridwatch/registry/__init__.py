"""The camera registry: the CSV engineers edit, its validation, import and generation."""
