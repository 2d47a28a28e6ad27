"""python -m kws.train.head CONFIG: see kws.train.head.run."""

import sys

from kws.train.head.run import main

# Guarded: the negative cache's worker processes are spawned, and a spawned child imports this
# module again (as __mp_main__); unguarded, every worker would start a whole training of its own.
if __name__ == "__main__":
    sys.exit(main())
