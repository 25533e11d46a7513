"""Run the swjax command line from a checkout: ``python cli.py analyze --set chat``."""

from swjax.entry import main

if __name__ == "__main__":
    main()
