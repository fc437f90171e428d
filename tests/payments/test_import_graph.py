"""The payments core's rooms import each other in one direction only.

The layers contract in pyproject.toml orders the top-level packages; inside `payments/` this test
holds the order for every module, including ones added later: no import cycle between modules
(the old `service` <-> `demo` cycle was one), and the facade (`service`) and the process that runs
it (`worker`) are imported by nothing else in the core.
"""

from __future__ import annotations

import grimp
import pytest

FACADES = {"payments.service", "payments.worker"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("payments")


def _imports(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    modules = {m for m in graph.modules if m.startswith("payments.")}
    return {
        m: {d for d in graph.find_modules_directly_imported_by(m) if d in modules} for m in modules
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in sorted(edges):
        if state.get(root):
            continue
        path: list[str] = [root]
        stack = [iter(sorted(edges[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_of_the_core_imports_itself_back(graph: grimp.ImportGraph) -> None:
    assert find_cycle(_imports(graph)) is None


def test_the_facade_and_the_worker_sit_on_top(graph: grimp.ImportGraph) -> None:
    edges = _imports(graph)
    upward = sorted(
        (m, d) for m, deps in edges.items() if m not in FACADES for d in deps if d in FACADES
    )
    assert upward == []
    assert edges["payments.service"] - FACADES, "the facade delegates to the rooms below it"
