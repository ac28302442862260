"""``python -m heatflow.cli``, as ``python -m heatflow``: the command."""

import sys

from heatflow.cli import main

sys.exit(main())
