"""The district's grid (网格): units, hierarchy, point location, generation and checks.

The read side (:mod:`gridwatch.grid.model`) is what the rest of gridwatch imports;
:mod:`gridwatch.grid.generate` builds the Songjiang grid file and
:mod:`gridwatch.grid.check` validates any grid file.
"""

from gridwatch.grid.model import GridFormatError, GridIndex, Level, Unit

__all__ = ["GridFormatError", "GridIndex", "Level", "Unit"]
