"""The ``evalstack`` entry point: a lazy click group and plain error reporting.

User errors (bad data, unknown names, missing extras) print one clear message and exit with
their code; they never show a traceback. Every printed message has its secrets masked
(``core.redact``) and its control characters written out (``core.text.visible``).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

COMMANDS = {
    "run": ("evalstack.cli.run", "run_command", "Run tasks on models and store the results."),
    "runs": ("evalstack.cli.runs", "runs_command", "List stored runs, newest first."),
    "show": ("evalstack.cli.show", "show_command",
             "Show a run's results, overall and by category."),
    "export": ("evalstack.cli.export", "export_command", "Export a run's samples."),
    "compare": ("evalstack.cli.compare", "compare_command",
                "Compare runs sample by sample: deltas, paired tests, flips."),
    "select": ("evalstack.cli.select", "select_command",
               "Pick among candidate models: ranking, ties for first, cost frontier."),
    "gate": ("evalstack.cli.gate", "gate_command",
             "CI regression gate: pass, regression or inconclusive (exit 0/1/2)."),
    "baseline": ("evalstack.cli.baseline", "baseline_command",
                 "Name and pin the runs that gates compare against."),
    "plan": ("evalstack.cli.plan", "plan_command",
             "Samples needed, detectable effects and cost, before spending money."),
    "report": ("evalstack.cli.report", "report_command",
               "Write runs to one self-contained HTML file (no network, no scripts)."),
    "view": ("evalstack.cli.view", "view_command",
             "Browse runs in a local web viewer (JSON twins under /api)."),
    "judge": ("evalstack.cli.judge", "judge_command",
              "LLM judges: validate one against human labels; judge two runs pairwise."),
    "list": ("evalstack.cli.list", "list_command",
             "List built-in tasks (with data availability), scorers, providers and models."),
    "load": ("evalstack.cli.load", "load_command",
             "Behaviour under load: throughput, latency, failures and quality by concurrency."),
    "serve": ("evalstack.cli.serve", "serve_command",
              "Production: the viewer plus an ingest API for traces (OTLP) and feedback."),
    "score-traces": ("evalstack.cli.score_traces", "score_traces_command",
                     "Production: score a deterministic sample of traces within a budget."),
    "alerts": ("evalstack.cli.alerts", "alerts_command",
               "Production: fired alerts; 'alerts check' evaluates rules with intervals."),
    "agreement": ("evalstack.cli.agreement", "agreement_command",
                  "Production: human reviews vs automated scores per week, drift flagged."),
    "guardrail": ("evalstack.cli.guardrail", "guardrail_command",
                  "A guardrail run's confusion matrix, FPR and FNR by category; compare two."),
    "arena": ("evalstack.cli.arena", "arena_command",
              "Arena: blind pairwise battles, Bradley-Terry ratings with prompt intervals."),
    "attack-rate": ("evalstack.cli.attack_rate", "attack_rate_command",
                    "Adversarial: attack success corrected for the detector's error; compare."),
    "robust": ("evalstack.cli.robust", "robust_command",
               "Robustness: perturbed variants vs the original, paired drop, suspect items."),
    "traces": ("evalstack.cli.traces", "traces_command",
               "Production: export chosen traces as an eval dataset, personal data redacted."),
    "mink": ("evalstack.cli.mink", "mink_command",
             "Contamination: Min-K% Prob and Min-K%++ membership scores (local models)."),
    "overlap": ("evalstack.cli.overlap", "overlap_command",
                "Contamination: n-gram overlap between a task's items and your corpus."),
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (keeps --help fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, _, help_) in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> Any:
        from evalstack.core.errors import EvalstackError

        try:
            return super().invoke(ctx)
        except EvalstackError as exc:
            from evalstack.core.redact import redact_text
            from evalstack.core.text import visible

            # a message may quote a URL or argument the user typed, credentials and all
            click.echo(f"error: {visible(redact_text(str(exc)))}", err=True)
            ctx.exit(exc.exit_code)
        except click.ClickException as exc:  # usage errors may quote what the user typed
            from evalstack.core.redact import redact_text
            from evalstack.core.text import visible

            # click types message as Final; it is what format_message() shows, so replace it
            exc.message = visible(redact_text(exc.message))  # type: ignore[misc, unused-ignore]
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted; finished samples are stored. Run again to resume.", err=True)
            ctx.exit(130)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evalstack")
def cli() -> None:
    """evalstack: evaluate LLMs and LLM applications, with every number's uncertainty.

    \b
    Quick start (no API key, no network):
      evalstack run demo_unit demo_mmlu --model local/smollm2
      evalstack runs
      evalstack show RUN_ID

    \b
    Your own unit evals (one JSON object per line with "input" and "target"):
      evalstack run cases.jsonl --model openai/gpt-4o-mini --scorer exact_match

    Runs are stored in a SQLite file (see `evalstack run --help`, --store) and resume
    automatically when the same command is run again.
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors exit with their code and a one-line message."""
    cli.main(args=argv, prog_name="evalstack")
