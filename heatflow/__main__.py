"""``python -m heatflow``: the ``heatflow`` command."""

import sys

from heatflow.cli import main

sys.exit(main())
