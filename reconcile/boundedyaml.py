"""YAML that costs what it looks like: the loader for every YAML file a user hands the tool
(rosters, ``reconcile.yaml``, simulator seeds). Pure: parses text.

PyYAML composes an alias as a second reference to the anchored node, so a "billion laughs"
document of a few hundred bytes parses quickly into a small graph that is 10^9 nodes
*expanded*; whatever walks it afterwards (schema validation, the roster's expansion into
rows) runs out of memory or time. Rosters need no anchors beyond a few (their file,
course and section defaults do that job), so the loader measures the composed graph
before building any Python object from it and refuses, with :class:`YamlTooLarge`:

- more than :data:`MAX_ALIASES` uses of an alias to a mapping or list;
- more than :data:`MAX_ALIAS_NODES` nodes added by expanding those aliases;
- more than :data:`MAX_NODES` nodes in the expanded document, nesting deeper than
  :data:`MAX_DEPTH`, or an alias inside its own anchor (a recursive document).

Measuring visits each distinct node once (an alias reuses the size already counted), so
the check costs a fraction of the parse, and a refused document never gets expanded.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_ALIASES = 100
MAX_ALIAS_NODES = 10_000
MAX_NODES = 5_000_000
MAX_DEPTH = 100

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser where PyYAML has it


class YamlTooLarge(yaml.YAMLError):
    """The document would expand beyond the loader's limits; ``problem`` says which."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _Measure:
    def __init__(self, *, max_nodes: int) -> None:
        self.max_nodes = max_nodes
        self.sizes: dict[int, int] = {}  # id(collection node) -> expanded size; -1 while inside it
        self.aliases = 0
        self.alias_nodes = 0

    def size(self, node: Node, depth: int) -> int:
        if isinstance(node, ScalarNode):
            return 1
        key = id(node)
        known = self.sizes.get(key)
        if known is not None:
            if known < 0:
                raise YamlTooLarge(
                    "an alias refers to the node it is inside (a recursive document)", node.start_mark
                )
            self.aliases += 1
            self.alias_nodes += known
            if self.aliases > MAX_ALIASES:
                raise YamlTooLarge(
                    f"more than {MAX_ALIASES} aliases (*name); a roster needs no more than a few anchors",
                    node.start_mark,
                )
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise YamlTooLarge(
                    f"its aliases would expand into more than {MAX_ALIAS_NODES:,} extra nodes",
                    node.start_mark,
                )
            return known
        if depth > MAX_DEPTH:
            raise YamlTooLarge(f"nested more than {MAX_DEPTH} levels deep", node.start_mark)
        self.sizes[key] = -1
        total = 1
        if isinstance(node, SequenceNode):
            for item in node.value:
                total += self.size(item, depth + 1)
        elif isinstance(node, MappingNode):
            for name, value in node.value:
                total += self.size(name, depth + 1) + self.size(value, depth + 1)
        if total > self.max_nodes:
            raise YamlTooLarge(f"more than {self.max_nodes:,} nodes", node.start_mark)
        self.sizes[key] = total
        return total


def measure(node: Node, *, max_nodes: int = MAX_NODES) -> int:
    """The expanded size of a composed document; raises :class:`YamlTooLarge` past a limit."""
    return _Measure(max_nodes=max_nodes).size(node, 0)


class BoundedLoader(_BASE):
    """A safe loader (C where available) that measures the document before constructing it."""

    max_nodes = MAX_NODES

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        measure(node, max_nodes=self.max_nodes)
        return self.construct_document(node)


def load(text: str | bytes) -> Any:
    """The one document in ``text``, built only once it is known to stay within the limits.

    Raises ``yaml.YAMLError`` (:class:`YamlTooLarge` for a document over a limit, with
    ``problem`` and, where known, ``problem_mark`` as PyYAML's own errors have)."""
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def check(text: str | bytes) -> None:
    """Parse and measure ``text`` without building it (for a file another component loads)."""
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            measure(node)
    finally:
        loader.dispose()
