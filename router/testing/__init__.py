"""The provider contract suite, shipped so that a third-party plugin can run it against its provider.

A plugin's test module implements a `ContractHarness` (or an `HttpContractHarness` for an HTTP
backend), defines a pytest fixture named `harness` that yields one and then awaits its
`aclose()`, and imports the tests:

    from router.testing.suite import *

This package needs pytest and pytest-asyncio (the router's `test` extra); nothing outside
it imports it.
"""

import pytest

pytest.register_assert_rewrite("router.testing.checks", "router.testing.suite")
