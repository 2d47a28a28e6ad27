"""python -m kws.train.head CONFIG: see kws.train.head.run."""

import sys

from kws.train.head.run import main

sys.exit(main())
