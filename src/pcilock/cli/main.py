"""The ``pcilock`` command line.

Exit codes, kept by every command: 0 no violation, 1 violation found, 2 bad
input or usage, 3 inconclusive (budget ran out), 4 model error.
"""

from __future__ import annotations

import sys

import click

from pcilock import __version__
from pcilock.scenarios.parse import ScenarioError

EXIT_OK, EXIT_VIOLATION, EXIT_INPUT, EXIT_INCONCLUSIVE, EXIT_MODEL_ERROR = 0, 1, 2, 3, 4
STRATEGIES = ("dpor", "source-dpor", "random", "pct", "bounded")


class InputError(Exception):
    """Bad input: printed as one line, exit status 2."""


def fail_input(message):
    click.echo(f"pcilock: error: {message}", err=True)
    sys.exit(EXIT_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcilock")
def cli():
    """Settle whether the Linux PCI core deadlocks: an executable model of the PCI
    core (v6.1, v6.12, v7.2 and proposed patches) and a checker that explores
    every interleaving of concurrent operations on a PCI topology."""


@cli.command("list")
def list_cmd():
    """The scenario catalogue: id, title, and the regimes with expectations."""
    from .commands import do_list

    sys.exit(do_list())


@cli.command("check")
@click.argument("scenario")
@click.option("--kernel", "regime", default="v7.2", show_default=True,
              help="regime: a base (v6.1, v6.12, v7.2) plus +ID / -ID patches")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="explorer (default: the scenario's [check] strategy, else dpor)")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help="seconds (default: scenario's [check] budget, else 300)")
@click.option("--executions", type=click.IntRange(min=1), default=None,
              help="stop after this many executions (default: scenario's [check] executions, else no limit)")
@click.option("--seed", type=int, default=None,
              help="seed of the random and pct strategies (default: scenario's [check] seed, else 0)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--all", "all_", is_flag=True, help="go on after the first violation; report each distinct one")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="also write the report here")
@click.option("--html", type=click.Path(dir_okay=False), default=None, help="self-contained HTML report")
@click.option("--dot", type=click.Path(dir_okay=False), default=None, help="lock-order graph as DOT")
def check_cmd(scenario, regime, strategy, budget, executions, seed, fmt, all_, out, html, dot):
    """Explore SCENARIO (a catalogue id or a .toml path) under a kernel regime."""
    from .commands import do_check

    sys.exit(do_check(scenario, regime, strategy, budget, seed, fmt, all_, out, html, dot,
                      executions=executions))


@cli.command("replay")
@click.argument("scenario")
@click.option("--kernel", "regime", required=True)
@click.option("--schedule", required=True, help="replay string printed by check")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def replay_cmd(scenario, regime, schedule, fmt):
    """Re-run one interleaving and print its full trace."""
    from .commands import do_replay

    sys.exit(do_replay(scenario, regime, schedule, fmt))


@cli.command("matrix")
@click.argument("scenarios", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def matrix_cmd(scenarios, fmt):
    """Every scenario against every regime of its [expect] table; exit 0 only if all hold."""
    from .commands import do_matrix

    sys.exit(do_matrix(scenarios, fmt))


@cli.command("explain")
@click.argument("function")
@click.option("--kernel", "regime", default="v7.2", show_default=True)
def explain_cmd(function, regime):
    """The model's lock skeleton of FUNCTION, with the kernel source it mirrors."""
    from .commands import do_explain

    sys.exit(do_explain(function, regime))


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="pcilock", standalone_mode=False)
    except click.exceptions.UsageError as e:
        # one line, like every other input error (click's usage block would add three)
        where = e.ctx.command_path if e.ctx is not None else "pcilock"
        hint = f" (see '{where} --help')"
        click.echo(f"{where}: error: {' '.join(e.format_message().split())}{hint}", err=True)
        sys.exit(EXIT_INPUT)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except ScenarioError as e:  # a bad catalogue file or PCILOCK_CATALOGUE reached outside a command's checks
        click.echo(f"pcilock: error: {e}", err=True)
        sys.exit(EXIT_INPUT)
    sys.exit(0)


if __name__ == "__main__":
    main()
