"""Which edge nodes are alive, as the aggregator hears them: the basis of failover.

Every edge agent sends a heartbeat every ``edge.delivery.heartbeat_s``. The receiver
notes the time of each valid message a node sends (:meth:`NodeLiveness.heard`); a node
heard within ``aggregator.failover.node_timeout_s`` (T) is alive. The receiver answers
each heartbeat with the alive list (``HEARTBEAT_REPLY``, protocol version 2) and every
agent runs rendezvous hashing over the configured nodes that are in it, always
including itself (:func:`gridwatch.sharding.serving_nodes`). So when a node stops
heartbeating for longer than T, the others take its cameras at their next heartbeat,
and they hand them back as soon as it is heard again: no cluster manager, no election,
nothing but the heartbeats the agents already send.

A freshly started aggregator has heard nobody: for its first T seconds it does not know
who is alive and gives no view (:meth:`NodeLiveness.alive` returns None); the agents keep
the view they had (or, when they start, the whole node list).

>>> live = NodeLiveness(timeout_s=30, started_at=0.0)
>>> live.heard("node-000", 10.0); live.heard("node-001", 25.0)
>>> live.alive(20.0) is None  # warming up: not every live node has been heard yet
True
>>> live.alive(50.0)
['node-001']
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class NodeLiveness:
    """The last time each node was heard, and who counts as alive now."""

    def __init__(self, timeout_s: float, started_at: float) -> None:
        self.timeout_s = timeout_s
        self.started_at = started_at
        self.last_heard: dict[str, float] = {}
        self._reported: set[str] | None = None  # the alive set last logged

    def heard(self, node_id: str, at: float) -> None:
        """``node_id`` sent a valid message at ``at`` (Unix seconds)."""
        if at > self.last_heard.get(node_id, 0.0):
            self.last_heard[node_id] = at

    def warming_up(self, now: float) -> bool:
        """True until the aggregator has run for T: a live node may not have been heard."""
        return now - self.started_at < self.timeout_s

    def alive(self, now: float) -> list[str] | None:
        """The nodes heard within T, sorted; None while :meth:`warming_up`."""
        if self.warming_up(now):
            return None
        cutoff = now - self.timeout_s
        return sorted(n for n, t in self.last_heard.items() if t >= cutoff)

    def report_changes(self, now: float) -> None:
        """Log each node that went silent for longer than T, and each one that came back.

        Called periodically; the agents act on the same view through the replies.
        """
        alive = self.alive(now)
        if alive is None:
            return
        current = set(alive)
        before = self._reported
        self._reported = current
        if before is None:
            log.info("failover view: %d node(s) alive: %s", len(current), ", ".join(alive))
            return
        for node in sorted(before - current):
            silent = now - self.last_heard.get(node, now)
            log.warning(
                "node %s silent for %.0f s (over %.0f s): its cameras move to the other nodes",
                node,
                silent,
                self.timeout_s,
            )
        for node in sorted(current - before):
            log.info("node %s is heard again (or new): it takes its cameras back", node)
