"""The aggregator: where every edge agent's events arrive and become cases.

ZeroMQ ROUTER receiver → validation → idempotent insert → ack → grid placement →
case matching → workflow, camera health, metrics (and later the web UI and API).
"""
