"""`python -m router` is the `router` command."""

import sys

from router.server.cli import main

sys.exit(main())
