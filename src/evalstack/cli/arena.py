"""``evalstack arena``: a private arena. Blind pairwise battles (judged, voted in the viewer,
or imported) rated by Bradley-Terry with prompt-clustered intervals.

The ratings are in ``stats.ranking``, the leaderboard in ``analysis.arena``, the judging in
``runner.arena``, the stored battles in ``store.battles``.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from evalstack.cli.options import IntAtLeast, run_config_options

if TYPE_CHECKING:
    from evalstack.analysis.arena import Leaderboard
    from evalstack.runner.arena import Contestant, Planned
    from evalstack.scorers.judge.pairwise import PairwiseJudge


@click.group("arena")
def arena_command() -> None:
    """A private arena: blind pairwise battles between your candidates on your prompts, and a
    leaderboard whose intervals can be trusted.

    \b
    Battles come from a judge (`arena run`, both orders), from people (the viewer's
    blind-vote queue, which offers the pairs `arena next` chooses) and from other tools'
    logs (`arena import`). Ratings are Bradley-Terry maximum-likelihood estimates on the
    Elo scale (mean 1000); intervals resample prompts, not battles, so many battles on one
    prompt do not pass for independent evidence.

    \b
    Examples:
      evalstack arena run --models local/smollm2 local/gemma3 --task vicuna_bench
      evalstack arena leaderboard vicuna_bench --format markdown
      evalstack arena import clean_battle.json --format fastchat --arena chatbot
      evalstack arena next vicuna_bench -k 5
    """


def _store_option(fn: Any) -> Any:
    return click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
                        help="Store URL or path.")(fn)


def _output_options(fn: Any) -> Any:
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)
    return click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]),
                        default="table", show_default=True, help="Output format.")(fn)


def _board_options(fn: Any) -> Any:
    fn = click.option("--by", "by", type=click.Choice(["category"]), default=None,
                      help="One leaderboard per category as well.")(fn)
    fn = click.option("--style", is_flag=True,
                      help="Style control: fit the answer-length difference as a covariate "
                           "(lmarena's style control) and show its coefficient.")(fn)
    fn = click.option("--ties", type=click.Choice(["half", "davidson"]), default="half",
                      show_default=True,
                      help="Ties as half a win each, or Davidson's tie model.")(fn)
    fn = click.option("--boot", "n_boot", type=IntAtLeast(50), default=1000, show_default=True,
                      help="Bootstrap samples (prompts resampled) behind the intervals.")(fn)
    return click.option("--seed", type=int, default=0, show_default=True,
                        help="Seed of the bootstrap.")(fn)


@arena_command.command("run")
@click.option("--models", "models", multiple=True, required=True, metavar="MODEL|RUN",
              help="The contestants (repeat, or space-separated after one --models): model "
                   "specs, run on the task (stored runs are reused: a rerun makes no model "
                   "request), or ids of stored runs of the task.")
@click.argument("more_models", nargs=-1, required=False)
@click.option("--task", "task", required=True, help="The task whose prompts the contestants "
              "answer, e.g. vicuna_bench or mt_bench.")
@click.option("--judge", "judge_spec", default="local/smollm2", show_default=True,
              help="The judge model, provider/model.")
@click.option("-J", "--judge-arg", "judge_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the judge model. API keys come from the environment.")
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the contestant models, as in evalstack run.")
@click.option("-T", "--task-arg", "task_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the task, as in evalstack run.")
@click.option("--baseline", default=None, metavar="MODEL|RUN",
              help="Judge every contestant against this one only (FastChat's "
                   "pairwise-baseline mode), instead of every pair.")
@click.option("--budget", type=IntAtLeast(1), default=None,
              help="At most this many new battles (each judged in both orders); the pairs "
                   "are chosen by active choice where they most reduce the uncertainty at "
                   "the top. [default: every pair on every prompt]")
@click.option("--first-turn", is_flag=True,
              help="Judge only the first turn of multi-turn tasks (default: every turn).")
@click.option("--no-reference", is_flag=True,
              help="Do not show the samples' reference answers to the judge.")
@click.option("--arena", "arena", default=None, help="The arena's name [default: the task's].")
@click.option("--max-tokens", type=IntAtLeast(1), default=None,
              help="Override the task's max tokens for the contestants' answers.")
@click.option("--max-attempts", type=IntAtLeast(1), default=2, show_default=True,
              help="Judge attempts per order before the battle is flagged.")
@run_config_options
@_board_options
@_output_options
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def run_command(models: tuple[str, ...], more_models: tuple[str, ...], task: str,
                judge_spec: str, judge_args: tuple[str, ...], model_args: tuple[str, ...],
                task_args: tuple[str, ...], baseline: str | None, budget: int | None,
                first_turn: bool, no_reference: bool, arena: str | None,
                max_tokens: int | None, max_attempts: int,
                by: str | None, style: bool, ties: str, n_boot: int, seed: int,
                as_json: bool, fmt: str, no_progress: bool, **flags: Any) -> None:
    """Answer TASK with every contestant, judge pairs in both orders, store the battles and
    print the leaderboard.

    \b
    Each battle is judged twice (A shown first, then B). When the two orders disagree the
    battle is a tie marked inconsistent; when the judge gives no verdict in either order
    the battle is stored flagged and not rated. Battles already judged by the same judge
    and template are never judged again.

    \b
    Examples:
      evalstack arena run --models local/smollm2 local/gemma3 --task vicuna_bench
      evalstack arena run --models A B C --task mt_bench --baseline B --judge openai/gpt-4o
      evalstack arena run --models A B C D --task cases.jsonl --budget 200
    """
    from evalstack.cli.options import build_run_config
    from evalstack.core.errors import UserError
    from evalstack.runner.resolve import parse_kv, resolve_task

    fmt = "json" if as_json else fmt
    specs = list(dict.fromkeys([*models, *more_models]))
    if baseline is not None and baseline not in specs:
        specs.append(baseline)
    if len(specs) < 2:
        raise UserError(f"An arena needs at least two contestants; received {specs}. Pass "
                        f"--models A B [C ...].")
    progress = not no_progress and fmt != "json" and sys.stderr.isatty()
    run = build_run_config(flags, progress=progress)
    jargs = parse_kv(judge_args, "--judge-arg")
    margs = parse_kv(model_args, "--model-arg")
    tasks = resolve_task(task, task_args=parse_kv(task_args, "--task-arg"))
    if len(tasks) != 1:
        raise UserError(f"{task!r} holds {len(tasks)} tasks; name one as FILE@TASK.")
    name = arena or tasks[0].name
    task_ = tasks[0]
    if max_tokens is not None:
        import dataclasses

        task_ = dataclasses.replace(task_, config=dataclasses.replace(task_.config,
                                                                      max_tokens=max_tokens))
    contestants = _contestants(task_, specs, margs, run)
    base = None if baseline is None else next(c.name for c, s in zip(contestants, specs,
                                                                      strict=True)
                                              if s == baseline)
    names = [c.name for c in contestants]
    pairs = ([(n, base) for n in names if n != base] if base is not None
             else [(x, y) for i, x in enumerate(names) for y in names[i + 1:]])
    added, flagged = _judge(contestants, pairs, name, judge_spec, jargs, max_attempts,
                            budget, not first_turn, not no_reference, run, seed, progress,
                            flags)
    from evalstack.cli.safe import echo

    echo(f"arena {name}: {added} new battle(s) judged by {judge_spec}"
         + (f", {flagged} flagged (no verdict in both orders)" if flagged else "") + ".",
         err=True)
    _show(run.store, name, by, style, ties, n_boot, seed, fmt)


def _contestants(task: Any, specs: list[str], margs: dict[str, Any], run: Any
                 ) -> list[Contestant]:
    """Each contestant's answers: a stored run's, or a run of the task on the model (cached)."""
    from evalstack.core.errors import UserError
    from evalstack.runner.arena import Contestant, collect_answers
    from evalstack.runner.evaluate import evaluate
    from evalstack.store import Store

    found: list[tuple[str, str]] = []
    for spec in specs:
        if "/" not in spec:  # a stored run (id, prefix or baseline name)
            with Store.open(run.store, create=False) as st:
                record = st.resolve_run(spec)
            if record.task_name != task.name:
                raise UserError(f"Run {record.id} is a run of {record.task_name!r}, not of "
                                f"{task.name!r}; an arena compares answers to the same prompts.")
            found.append((record.model, record.id))
            continue
        result = evaluate([task], [spec], run, model_args=margs).tasks[0]
        found.append((spec, result.run_id))
    counts: dict[str, int] = {}
    for label, _ in found:
        counts[label] = counts.get(label, 0) + 1
    out = []
    with Store.open(run.store, create=False) as st:
        for label, run_id in found:
            shown = label if counts[label] == 1 else f"{label}#{run_id[-6:]}"
            answers = collect_answers(st, run_id)
            if not answers:
                raise UserError(f"Run {run_id} ({label}) has no successful answer to judge; "
                                f"see `evalstack show {run_id}`.")
            out.append(Contestant(shown, run_id, answers))
    return out


def _judge(contestants: list[Contestant], pairs: list[tuple[str, str]], arena: str,
           judge_spec: str, jargs: dict[str, Any], max_attempts: int, budget: int | None,
           turns: bool, reference: bool, run: Any, seed: int, progress: bool,
           limits: dict[str, Any]) -> tuple[int, int]:
    import asyncio
    import random

    from evalstack.analysis.arena import next_battles
    from evalstack.cli.judge import _judge_models
    from evalstack.core.errors import UserError
    from evalstack.runner.arena import all_battles, battle_id, judge_battles, plan_round
    from evalstack.runner.progress import NoProgress, RichProgress
    from evalstack.scorers.judge.pairwise import PairwiseJudge
    from evalstack.store import Store
    from evalstack.store.battles import BattleRecord, add_battles, decided_keys, list_battles

    candidates = all_battles(contestants, pairs, turns)
    if not candidates:
        raise UserError("The contestants share no successfully answered prompt: there is "
                        "nothing to judge.")
    with Store.open(run.store) as st, _judge_models(None, not run.cache, dict(limits),
                                                    opened=st):
        judge = PairwiseJudge(judge_spec, jargs, max_attempts=max_attempts)
        stored = decided_keys(st, arena)  # flagged battles are judged again
        todo = [p for p in candidates
                if battle_id(arena, p, judge_spec, judge.template_hash) not in stored]
        total = len(todo) if budget is None else min(budget, len(todo))
        bar = RichProgress() if progress else NoProgress()
        counts = {"added": 0, "flagged": 0}

        def done(record: BattleRecord) -> None:
            counts["added"] += add_battles(st, [record], retry_flagged=True)
            counts["flagged"] += int(record.outcome is None)
            bar.advance(counts["flagged"], 0.0)

        async def main() -> None:
            bar.start(f"arena {arena} · judge {judge_spec}", total, 0)
            try:
                if budget is None or budget >= len(todo):
                    await judge_battles(judge, judge_spec, arena, todo, contestants,
                                        reference=reference, progress=done)
                    return
                await _active_rounds(judge, judge_spec, arena, todo, contestants, total,
                                     reference, random.Random(seed), done, st)
            finally:
                bar.finish()
                await judge.aclose()

        async def _active_rounds(judge: PairwiseJudge, spec: str, name: str,
                                 left: list[Planned], people: list[Contestant], total: int,
                                 ref: bool, rng: random.Random, on_done: Any, store: Any
                                 ) -> None:
            names = [c.name for c in people]
            spent: set[tuple[str, str, str, int]] = set()
            allowed = {(p.a, p.b) for p in left}
            batch = max(1, min(len(pairs), total // 10 or 1))
            while counts["added"] < total:
                history = list_battles(store, name)
                chosen = [p for p in next_battles(history, names, batch * 3)
                          if p in allowed or (p[1], p[0]) in allowed][:batch]
                chosen = chosen or sorted(allowed)[:batch]
                planned = plan_round(left, chosen, spent, rng)
                if not planned:  # the chosen pairs are exhausted: any battle left
                    planned = [p for p in left
                               if (p.a, p.b, p.prompt_id, p.turn) not in spent][:batch]
                if not planned:
                    return
                planned = planned[:total - counts["added"]]
                spent.update((p.a, p.b, p.prompt_id, p.turn) for p in planned)
                await judge_battles(judge, spec, name, planned, people, reference=ref,
                                    progress=on_done)

        asyncio.run(main())
    return counts["added"], counts["flagged"]


@arena_command.command("leaderboard")
@click.argument("arena", required=False)
@_board_options
@_output_options
@_store_option
def leaderboard_command(arena: str | None, by: str | None, style: bool, ties: str,
                        n_boot: int, seed: int, as_json: bool, fmt: str,
                        store: str | None) -> None:
    """The leaderboard of ARENA: ratings with 95% intervals (prompts resampled, and battles
    resampled beside them), rank ranges, the predicted win-rate matrix, and whether the
    data support naming a winner.

    \b
    Examples:
      evalstack arena leaderboard vicuna_bench
      evalstack arena leaderboard vicuna_bench --by category --format markdown
      evalstack arena leaderboard chatbot --style --json
    """
    _show(store, arena, by, style, ties, n_boot, seed, "json" if as_json else fmt)


def _resolve_arena(st: Any, arena: str | None) -> str:
    from evalstack.core.errors import UserError
    from evalstack.store.battles import list_arenas

    arenas = list_arenas(st)
    names = [a for a, _ in arenas]
    if arena is not None and arena in names:
        return arena
    listing = ", ".join(f"{a} ({n})" for a, n in arenas) or "none yet"
    if arena is None and len(names) == 1:
        return names[0]
    what = f"No arena named {arena!r}" if arena is not None else "Name an arena"
    raise UserError(f"{what} in the store {st.url!r}. Arenas (battles): {listing}. Battles "
                    f"come from `evalstack arena run`, `arena import` and the viewer's votes.")


def _show(store_url: str | None, arena: str | None, by: str | None, style: bool, ties: str,
          n_boot: int, seed: int, fmt: str) -> None:
    from evalstack.analysis.arena import by_category, leaderboard
    from evalstack.store import Store
    from evalstack.store.battles import list_battles

    with Store.open(store_url, create=False) as st:
        name = _resolve_arena(st, arena)
        battles = list_battles(st, name)
    options: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "style": style, "ties": ties}
    board = leaderboard(battles, arena=name, **options)
    parts = by_category(battles, arena=name, **options) if by == "category" else []
    if fmt == "json":
        click.echo(json.dumps({
            **board.to_dict(),
            "by_category": [p.to_dict() if not isinstance(p, tuple)
                            else {"category": p[0], "error": p[1]} for p in parts],
        }, indent=2))
        return
    _print_board(board, fmt)
    for part in parts:
        if isinstance(part, tuple):
            click.echo(f"\nCategory {part[0]}: {part[1]}")
        else:
            _print_board(part, fmt)


def _print_board(board: Leaderboard, fmt: str) -> None:
    from evalstack.analysis.arena import markdown
    from evalstack.cli._decide import Rows, say
    from evalstack.cli.safe import SafeConsole, echo

    if fmt == "markdown":
        echo(markdown(board))
        return
    console = SafeConsole()
    title = (f"Arena {board.arena}" + (f" · {board.category}" if board.category else "")
             + f": {board.n_battles} battles on {board.n_prompts} prompts (Elo scale, mean 1000)")
    rows = Rows(title, ["rank", "contestant", "rating", "95% CI (prompts)", "95% CI (battles)",
                        "rank range", "battles", "W-L-T"], [0, 2, 3, 4, 5, 6])
    for r in board.rows:
        rows.add(r.rank, r.name, f"{r.rating:.0f}", f"[{r.ci_low:.0f}, {r.ci_high:.0f}]",
                 f"[{r.battle_ci_low:.0f}, {r.battle_ci_high:.0f}]",
                 f"{r.rank_low}-{r.rank_high}", r.battles, f"{r.wins}-{r.losses}-{r.ties}")
    rows.print("table", console)
    if len(board.rows) <= 8 and len(board.rows) >= 2:
        names = [r.name for r in board.rows]
        matrix = Rows("Predicted win rate (row beats column)", ["", *names],
                      list(range(1, len(names) + 1)))
        for a in names:
            matrix.add(a, *("-" if a == b else f"{board.win_rate[a][b]:.2f}" for b in names))
        matrix.print("table", console)
    if board.style_coef is not None:
        say("table", console, f"Style coefficient (length difference): {board.style_coef:+.3f}")
    if board.flagged:
        say("table", console, "Flagged, not rated: " + ", ".join(
            f"{k} ({v})" for k, v in board.flagged.items()))
    if board.warning:
        say("table", console, f"Warning: {board.warning}")
    say("table", console, board.verdict, "bold")


@arena_command.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "log_format", type=click.Choice(["fastchat", "llmbar"]),
              required=True, help="fastchat: FastChat's clean_battle JSON (or JSON lines); "
                                  "llmbar: LLMBar's dataset.json (human gold labels).")
@click.option("--arena", "arena", required=True, help="The arena the battles join.")
@_store_option
def import_command(files: tuple[str, ...], log_format: str, arena: str,
                   store: str | None) -> None:
    """Import battle logs into ARENA. Importing the same file again adds nothing.

    \b
    Rows with an unknown outcome or a contestant battling itself are stored flagged (shown,
    never rated); a row that is not a battle stops the import with its file and line, and
    nothing of that file is stored.

    \b
    Examples:
      evalstack arena import clean_battle_20240814.json --format fastchat --arena chatbot
      evalstack arena import LLMBar/Dataset/Processed/MT-Bench/dataset.json \\
          --format llmbar --arena mt-bench-human
    """
    from pathlib import Path

    from evalstack.analysis.battle_logs import read_battle_log
    from evalstack.cli.safe import echo
    from evalstack.store import Store
    from evalstack.store.battles import add_battles

    records = [(f, read_battle_log(Path(f), log_format, arena)) for f in files]
    with Store.open(store) as st:
        for f, rows in records:
            added = add_battles(st, rows)
            flagged = [r for r in rows if r.outcome is None]
            echo(f"{f}: {len(rows)} battle(s) read, {added} added"
                 f"{f', {len(rows) - added} already stored' if added < len(rows) else ''}"
                 f"{f', {len(flagged)} flagged' if flagged else ''}.")
            for r in flagged[:5]:
                echo(f"  flagged: {r.flag}")


@arena_command.command("next")
@click.argument("arena", required=False)
@click.option("-k", "k", type=IntAtLeast(1), default=5, show_default=True,
              help="How many pairs.")
@_store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def next_command(arena: str | None, k: int, store: str | None, as_json: bool) -> None:
    """The K pairs whose next battle most reduces the uncertainty at the top of ARENA (what
    the viewer's blind-vote queue offers first).

    \b
    Examples:
      evalstack arena next vicuna_bench -k 3
    """
    from evalstack.analysis.arena import next_battles
    from evalstack.store import Store
    from evalstack.store.battles import list_battles

    with Store.open(store, create=False) as st:
        name = _resolve_arena(st, arena)
        battles = list_battles(st, name)
    people = sorted({r.model_a for r in battles} | {r.model_b for r in battles})
    pairs = next_battles(battles, people, k)
    if as_json:
        click.echo(json.dumps({"arena": name, "pairs": [list(p) for p in pairs]}))
        return
    for a, b in pairs:
        click.echo(f"{a}\tvs\t{b}")
