import sys

from sovereign_kernel.cli import main

sys.exit(main())
