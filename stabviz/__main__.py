import sys

from stabviz.cli import main

sys.exit(main())
