"""Rules: which objects, where and for how long make an event (configs/rules.yaml)."""
