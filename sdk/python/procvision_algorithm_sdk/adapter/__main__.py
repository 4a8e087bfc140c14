import sys

from .runtime import main

if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:  # Ctrl-C in a terminal: stop quietly, no traceback
        code = 130
    sys.exit(code)
