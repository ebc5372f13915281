"""The ``bioner`` command line: one thin module per command over plain library functions.

Each command calls a typed function you can use from Python (``bioner.io.read``/
``write``, ``bioner.stats.corpus_stats``, ``bioner.evaluate.evaluate``,
``bioner.corpora.download`` ...). A BionerError ends a command with its one-line
message (``[E201] file:line: message (hint)``) on stderr and exit code 2; any other
exception is a bug and propagates with its traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer

import bioner

from .annotate import annotate_command
from .convert import convert_command, formats_command
from .curate import curate_command
from .demo import demo_command
from .download import corpora_command, download_command
from .evaluate import evaluate_command
from .extract import extract_command
from .selector_rule import selector_rule_command
from .serve import serve_command
from .silver import silver_app
from .stats import stats_command
from .train import train_app
from .train_llm import llm_command
from .train_selector import selector_command

app = typer.Typer(
    name="bioner",
    help="Biomedical named entity recognition: formats, corpora, evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold whole documents
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bioner {bioner.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Biomedical named entity recognition: formats, corpora, evaluation."""


app.command("convert")(convert_command)
app.command("stats")(stats_command)
app.command("evaluate")(evaluate_command)
app.command("download")(download_command)
app.command("corpora")(corpora_command)
app.command("formats")(formats_command)
app.command("demo")(demo_command)
app.command("extract")(extract_command)
app.command("annotate")(annotate_command)
app.command("serve")(serve_command)
app.command("curate")(curate_command)
train_app.command("llm")(llm_command)
train_app.command("selector")(selector_command)
train_app.command("selector-rule")(selector_rule_command)
app.add_typer(train_app, name="train")
app.add_typer(silver_app, name="silver")


def main() -> None:
    """Entry point of the ``bioner`` script."""
    app(prog_name="bioner")


__all__ = ["app", "main"]
