"""`python -m bioner`: the same as the `bioner` command."""

from bioner.cli import main

if __name__ == "__main__":
    main()
