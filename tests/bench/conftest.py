"""The benchmark's processes around the session's assistant, shared by the tests of this package.

Package-scoped on purpose: its bot process reads the notifications outbox of the shared database,
so it must be gone before the bot tests run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.stack import BenchStack, start_bench_stack
from tests.helpers.stack import AssistantStack


@pytest.fixture(scope="package")
def bench_stack(
    assistant_stack: AssistantStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BenchStack]:
    """The benchmark's extra processes around the session's assistant, with fault proxies."""
    workdir = tmp_path_factory.mktemp("bench")
    with start_bench_stack(workdir, assistant_stack.model, assistant=assistant_stack, proxies=True) as stack:
        yield stack
