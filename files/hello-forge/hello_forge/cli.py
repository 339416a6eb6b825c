"""hello-forge: greets, and shows what it was built from."""

import platform
import sys

import click
from rich.console import Console
from rich.table import Table

from . import __version__


@click.command()
@click.option("--name", default="world", show_default=True, help="Who to greet.")
@click.option("--details", is_flag=True, help="Show the interpreter and packages it runs on.")
@click.version_option(__version__)
def main(name: str, details: bool) -> None:
    """Greet NAME from an image built offline from pinned sources."""
    console = Console()
    console.print(f"Hello, [bold]{name}[/bold]! Built by forge from pinned .debs and wheels.")
    if details:
        from importlib.metadata import version

        table = Table(title="What this runs on")
        table.add_column("component")
        table.add_column("version")
        table.add_row("python", platform.python_version())
        for package in ("click", "rich", "pygments", "markdown-it-py"):
            table.add_row(package, version(package))
        console.print(table)
    sys.exit(0)
