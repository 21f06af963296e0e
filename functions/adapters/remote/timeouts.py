"""Per-attempt timeouts for SDK clients, whose timeouts are fixed when the client is built.

urllib3 takes a timeout per request; botocore clients do not. So an attempt with less
time left than the manifest's timeout uses a client built for a shorter timeout, rounded
UP to a step so that a container keeps a handful of clients rather than one per request.
"""

from __future__ import annotations

import math

STEP_SECONDS = 0.25


def client_timeout(time_left: float, manifest_timeout: float) -> float:
    """The timeout of the client to use: the manifest's, or the time left rounded up to a step.

    Rounding up may let an attempt outlive the deadline by less than one step; rounding
    down could leave no time at all for the last attempt.
    """
    if time_left >= manifest_timeout:
        return manifest_timeout
    return min(manifest_timeout, math.ceil(time_left / STEP_SECONDS) * STEP_SECONDS)
