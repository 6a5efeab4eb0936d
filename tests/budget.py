"""How many examples a property test draws: all of them in `make test`, a fifth in `make test-fast`
(the edit loop, STORYBOARD_TEST_FAST=1), where a quick answer is worth more than a thorough one."""

import os

FAST = os.environ.get("STORYBOARD_TEST_FAST") == "1"


def examples(full: int) -> int:
    return max(full // 5, 10) if FAST else full
