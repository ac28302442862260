"""``python -m heatflow.worker``: the detached worker's old name, kept so
that command lines written for it still work; it is
``python -m heatflow.runners.local`` now."""

import sys

from heatflow.runners.local import main

if __name__ == "__main__":
    sys.exit(main())
