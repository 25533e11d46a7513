"""The typer app of the ``swjax`` command line: its group (a usage error is one line and exit
code 2), ``--version`` and ``--quiet``. The commands are registered in :mod:`swjax.cli`.
"""

from __future__ import annotations

import functools
import sys
from typing import Annotated

import typer
import typer.core

# The click that typer runs on: vendored as typer._click since typer 0.27, the click package before.
click = getattr(typer.core, "_click", None) or __import__("click")


class _Commands(typer.core.TyperGroup):
    """The command group: a usage error (a bad choice, an unknown option, a missing value) is one
    line naming the problem and the command's help, exit code 2, instead of a framed panel."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        run = functools.partial(super().main, args=args, prog_name=prog_name, complete_var=complete_var, **extra)
        if not standalone_mode:
            return run(standalone_mode=False)
        try:
            code = run(standalone_mode=False)
        except click.exceptions.UsageError as err:
            if isinstance(err, getattr(click.exceptions, "NoArgsIsHelpError", ())):
                _framed_error(err)  # the help itself
            # One line: choices listed on several lines joined, typer's "Value error, " dropped.
            message = " ".join(err.format_message().split()).replace("Value error, ", "")
            where = f" (see '{err.ctx.command_path} --help')" if err.ctx is not None else ""
            typer.echo(f"error: {message}{where}", err=True)
            sys.exit(2)
        except click.exceptions.ClickException as err:
            _framed_error(err)
        except typer.Abort:
            from typer import rich_utils

            rich_utils.rich_abort_error()
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _framed_error(err):
    from typer import rich_utils

    rich_utils.rich_format_error(err)
    sys.exit(err.exit_code)


# Flags are shown as flags: typer 0.29 writes ``--x64 <bool>`` and ``--help <bool>`` otherwise.
_display_type = getattr(typer.core.TyperOption, "display_type_rich", None)

if _display_type is not None:

    def _flag_display_type(self, ctx):
        return None if self.is_flag and self.metavar is None else _display_type(self, ctx)

    typer.core.TyperOption.display_type_rich = _flag_display_type

app = typer.Typer(
    name="swjax",
    help="Uncertainty for the capabilities correlations of AI-safety benchmarks.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_Commands,
)


def _version(value: bool) -> None:
    if value:
        from ..provenance import devices, environment

        env = environment()
        typer.echo(f"swjax {env['swjax']}")
        typer.echo(f"jax {env['jax']}, jaxlib {env['jaxlib']}, numpy {env['numpy']}, python {env['python']}")
        typer.echo(f"devices: {devices()}")
        raise typer.Exit()


#: ``swjax --quiet COMMAND``: no progress on stderr (warnings and errors still print).
QUIET = {"on": False}


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Uncertainty for the capabilities correlations of AI-safety benchmarks."""
    QUIET["on"] = quiet
