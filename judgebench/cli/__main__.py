"""``python -m judgebench.cli COMMAND ...`` (and ``accelerate launch ... -m judgebench.cli
train ...``): the same entry point as the ``judgebench`` console script."""

import sys

from judgebench.cli import main

sys.exit(main())
