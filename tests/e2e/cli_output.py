"""What the CLI printed, without what the local stack's functions printed meanwhile.

Powertools prints metrics (EMF) and logs as one-line JSON to whatever `sys.stdout` is at the time:
under capsys that is the capture, not the stack's per-function logs (infra/local/function_logs.py).
"""

from __future__ import annotations

import json
from typing import Any


def printed(out: str) -> str:
    return "\n".join(line for line in out.splitlines() if not line.startswith(('{"_aws"', '{"level"')))


def printed_json(out: str) -> Any:
    return json.loads(printed(out))
