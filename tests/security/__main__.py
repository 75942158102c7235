"""``python -m tests.security URL ...``: the same as ``python -m tests.security.battery``."""

from __future__ import annotations

import sys

from tests.security.battery import main

sys.exit(main())
