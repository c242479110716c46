"""The edge agent: everything that runs on one GPU node.

ingest (PyAV readers) → motion gate → batched YOLO → per-camera tracks → rules →
events with evidence → durable outbox → ZeroMQ DEALER to the aggregator.
"""
