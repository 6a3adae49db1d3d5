"""The ``spinlock-spec`` command line.  A thin layer: each command lives in its
own module under ``spinlock_spec.cli`` and is imported only when invoked, so
``compile``/``diff``/``schema``/``zoo list`` never pay for torch."""
from __future__ import annotations

import importlib
import json
import os
import sys

import click

# command name -> "module:attr" of a click.Command
COMMANDS: dict[str, str] = {}


def register_command(name: str, target: str) -> None:
    COMMANDS[name] = target


# Each command module registers here (one line per command).
register_command("compile", "spinlock_spec.cli.compile_cmd:compile_cmd")
register_command("diff", "spinlock_spec.cli.diff_cmd:diff_cmd")
register_command("schema", "spinlock_spec.cli.schema_cmd:schema_cmd")
register_command("train", "spinlock_spec.cli.train_cmd:train_cmd")
register_command("encode", "spinlock_spec.cli.encode_cmd:encode_cmd")
register_command("data", "spinlock_spec.cli.data_cmd:data_group")
register_command("zoo", "spinlock_spec.cli.zoo_cmd:zoo_group")
register_command("report", "spinlock_spec.cli.report_cmd:report_cmd")
register_command("doctor", "spinlock_spec.cli.doctor_cmd:doctor_cmd")
register_command("export", "spinlock_spec.cli.export_cmd:export_cmd")
register_command("runs", "spinlock_spec.cli.runs_cmd:runs_group")
register_command("migrate", "spinlock_spec.cli.migrate_cmd:migrate_cmd")
register_command("sweep", "spinlock_spec.cli.sweep_cmd:sweep_group")
register_command("evaluate", "spinlock_spec.cli.evaluate_cmd:evaluate_cmd")

# Exit codes besides the common ones (0, 2, 3, 130), shown at the end of each command's help.
EXTRA_EXIT_CODES: dict[str, str] = {
    "compile": "1 a compatibility rule found an error.",
    "diff": "1 the specs differ (0: they are the same).",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            command = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("spinlock_spec.cli"):
                return None   # command not built yet
            raise
        _add_exit_codes(command, EXTRA_EXIT_CODES.get(name, ""))
        return command


def _add_exit_codes(command: click.Command, extra: str) -> None:
    """The exit codes at the end of the help of ``command`` and of its subcommands."""
    from spinlock_spec.cli.output import EXIT_CODES

    if command.epilog is None:
        command.epilog = EXIT_CODES + (f" Also: {extra}" if extra else "")
    for sub in getattr(command, "commands", {}).values():
        _add_exit_codes(sub, "")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spinlock-spec")
def cli():
    """Describe, check, compare, train and share categorical hierarchical VQ-VAE tokenizers."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one message and exit code 2, never a traceback."""
    from spinlock_spec.cli.output import error_payload, json_mode, json_requested
    from spinlock_spec.errors import UserError

    args = sys.argv[1:] if argv is None else list(argv)
    if not args and "_SPINLOCK_SPEC_COMPLETE" not in os.environ:   # bare command: its help, success
        with click.Context(cli, info_name="spinlock-spec") as ctx:
            click.echo(cli.get_help(ctx))
        sys.exit(0)
    from spinlock_spec.logs import warnings_to_debug_log

    warnings_to_debug_log()
    try:
        cli.main(args=args, prog_name="spinlock-spec", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        code = 2 if exc.exit_code == 2 else exc.exit_code
        if json_mode() or json_requested(args):
            click.echo(json.dumps(error_payload(exc, code)))
        exc.show()
        sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except UserError as exc:
        if json_mode():       # --format json: the error as JSON on stdout as well
            click.echo(json.dumps(error_payload(exc, exc.exit_code)))
        click.echo(exc.format(), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as exc:     # a write no layer caught: disk full, size limit, read-only (E020)
        from spinlock_spec.errors import WRITE_ERRNOS, output_error
        import errno

        if os.environ.get("SPINLOCK_SPEC_DEBUG") or errno.errorcode.get(exc.errno or 0) not in WRITE_ERRNOS:
            _internal_error(exc)
        err = output_error(exc.filename or "a file", exc)
        if json_mode():
            click.echo(json.dumps(error_payload(err, err.exit_code)))
        click.echo(err.format(), err=True)
        sys.exit(err.exit_code)
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        _internal_error(exc)
    if argv is None:          # the process's own command line: a CUDA run ends without teardown
        from spinlock_spec.cli.fast_exit import exit_now_after_cuda
        exit_now_after_cuda()


def _internal_error(exc: BaseException) -> None:
    if os.environ.get("SPINLOCK_SPEC_DEBUG"):
        raise exc
    click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
               "  this is a bug in spinlock-spec; rerun with SPINLOCK_SPEC_DEBUG=1 for the traceback "
               "and report it", err=True)
    sys.exit(3)
