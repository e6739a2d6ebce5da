"""`python -m minik ...`: how `minik up` starts components from whatever interpreter runs it."""

import sys

from minik.cli import main

sys.exit(main())
