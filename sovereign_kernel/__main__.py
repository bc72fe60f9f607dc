import sys

from sovereign_kernel.app.cli import main

sys.exit(main())
