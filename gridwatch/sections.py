"""The base of every typed config section (kept apart so that every part can import it)."""

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def repeated(values: Iterable[str]) -> list[str]:
    """The values that occur more than once, sorted: for "ids must be unique" checks.

    >>> repeated(["a", "b", "a", "c", "b"])
    ['a', 'b']
    """
    return sorted(value for value, n in Counter(values).items() if n > 1)
