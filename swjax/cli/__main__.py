"""``python -m swjax.cli``: the command line, as the console script runs it."""

from ..entry import main

if __name__ == "__main__":
    main()
