"""gridwatch: find street problems on city cameras and open cases for the grid that owns the place.

This small shared package holds what the edge agents and the aggregator both speak:
typed configuration, the grid hierarchy, the camera registry, sharding and storage.
"""

__version__ = "0.1.0"
