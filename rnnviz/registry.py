"""A registry: one name -> entry table that is at once the choices, the URL's vocabulary and the dispatcher.

tensorflow/playground's habit (`datasets = {"circle": classifyCircleData, ...}`): every list in
rnnviz (kinds of cell, the cells the app offers, tasks, input sources, pages) is one Registry,
and nothing else spells it out again. Looking up a name it does not hold raises UnknownKey, a
ValueError (and a KeyError) that names the key and the choices.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, Protocol, TypeVar


class Keyed(Protocol):
    key: str


E = TypeVar("E", bound=Keyed)


class UnknownKey(KeyError, ValueError):
    """A name that is not in a registry; str() is the message, without KeyError's quotes."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Mapping[str, E], Generic[E]):
    """Read-only, ordered name -> entry map; `what` names the argument in error messages."""

    def __init__(self, what: str, entries: Iterable[E]):
        self.what = what
        self._entries: dict[str, E] = {}
        for entry in entries:
            if entry.key in self._entries:
                raise ValueError(f"{what} {entry.key!r} is registered twice")
            self._entries[entry.key] = entry

    def __getitem__(self, key: str) -> E:
        try:
            return self._entries[key]
        except (KeyError, TypeError):  # TypeError: an unhashable key, e.g. a list from a notebook
            raise UnknownKey(f"{self.what} must be one of {tuple(self._entries)}, got {key!r}") from None

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._entries
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {list(self._entries)})"

    def labels(self) -> dict[str, str]:
        """key -> label, for a control's choices (every entry with a `label`)."""
        return {key: entry.label for key, entry in self._entries.items()}
