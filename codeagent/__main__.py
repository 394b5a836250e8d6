import sys

from codeagent.cli import main

sys.exit(main())
