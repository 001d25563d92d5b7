"""``python -m desktop``: start the reviewer app."""

import sys

from desktop.app import main

sys.exit(main())
