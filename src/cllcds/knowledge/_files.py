"""Reading the YAML data files shipped inside the package, with strict key checking."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from cllcds.domain import KnowledgeError

# The C loader is several times faster; fall back where PyYAML was built without libyaml.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def data_root() -> Traversable:
    """The folder of shipped data files."""
    return resources.files("cllcds.knowledge") / "data"


def load_yaml(path: Traversable) -> Any:
    """Parse one shipped YAML file."""
    with path.open("r", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)


def iter_yaml(folder: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(name, document)`` for every ``*.yaml`` file in a data sub-folder, sorted."""
    root = data_root() / folder
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            yield f"{folder}/{entry.name}", load_yaml(entry)


class Record:
    """A mapping read from a data file, which refuses unknown keys and names missing ones.

    Every access is checked, so a typo in a data file fails loudly at load time with the file,
    the record and the key in the message.
    """

    def __init__(self, path: str, where: str, raw: Any, allowed: set[str]) -> None:
        if not isinstance(raw, Mapping):
            raise KnowledgeError(path, f"{where}: expected a mapping, got {type(raw).__name__}")
        unknown = set(raw) - allowed
        if unknown:
            raise KnowledgeError(
                path, f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        self.path = path
        self.where = where
        self._raw: Mapping[str, Any] = raw

    def req(self, key: str, kind: type | tuple[type, ...]) -> Any:
        """A required key of the given type."""
        if key not in self._raw:
            raise KnowledgeError(self.path, f"{self.where}: missing required key {key!r}")
        return self._check(key, self._raw[key], kind)

    def opt(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        """An optional key of the given type."""
        if key not in self._raw or self._raw[key] is None:
            return default
        return self._check(key, self._raw[key], kind)

    def _check(self, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # YAML reads 33 as int; a float field accepts it. bool is an int subclass: refuse it.
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise KnowledgeError(self.path, f"{self.where}.{key}: expected {kinds}, got a bool")
        if not isinstance(value, kinds):
            raise KnowledgeError(
                self.path,
                f"{self.where}.{key}: expected {'/'.join(k.__name__ for k in kinds)}, "
                f"got {type(value).__name__} {value!r}",
            )
        return value
