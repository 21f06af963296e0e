"""`python -m infra.cli ...`, the same as the `candor` console script."""

import sys

from infra.cli import main

sys.exit(main())
