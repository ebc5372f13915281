"""``python -m bioner.serve``: the ``bioner serve`` command on its own."""

import typer

from bioner.cli.serve import serve_command

if __name__ == "__main__":
    typer.run(serve_command)
