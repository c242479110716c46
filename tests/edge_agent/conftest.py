"""The edge agent tests use the root conftest's ``scenes`` and ``weights_dir`` fixtures."""
