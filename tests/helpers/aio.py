"""asyncio for synchronous tests."""

from __future__ import annotations

import asyncio
from typing import Any


def run(coro: Any, timeout: float = 30.0) -> Any:
    """asyncio.run with a deadline: a test that hangs fails after `timeout` seconds."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())
