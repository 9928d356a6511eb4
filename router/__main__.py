"""`python -m router` is the `router` command."""

import sys

from router.server.entry import main

sys.exit(main())
