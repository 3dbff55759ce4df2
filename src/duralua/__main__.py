"""``python -m duralua``: the ``duralua`` command line."""

from .cli.main import main

if __name__ == "__main__":
    main()
