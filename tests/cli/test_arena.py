"""``evalstack arena``: judged battles in both orders, stored, rated; imports; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalstack.store import Store
from evalstack.store.battles import list_battles
from tests.analysis.helpers import invoke, mock_run, write_dataset

ROOT = Path(__file__).resolve().parents[2]
LLMBAR_MT = ROOT.parent / "shared/datasets/llmbar/Dataset/Processed/MT-Bench/dataset.json"

# Prefers the response equal to the reference; no verdict at all for item 3 (both orders);
# counts its calls in calls.txt.
PAIR_JUDGE = '''
import json, re

def grade(messages):
    with open("calls.txt", "a") as f:
        f.write("call\\n")
    text = messages[-1]["content"]
    found = dict(re.findall(r"<<<([A-Z_0-9]+)-\\w+>>>\\n(.*?)\\n<<<END-", text, re.S))
    ref = found.get("REFERENCE", "")
    one, two = found.get("RESPONSE_1", ""), found.get("RESPONSE_2", "")
    if ref == "a3":
        return "I cannot decide."
    winner = "tie" if one == two else "1" if one == ref else "2" if two == ref else "tie"
    return json.dumps({"rationale": "matches the reference", "winner": winner})
'''


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALSTACK_STORE", str(tmp_path / "store.db"))
    (tmp_path / "pair_judge.py").write_text(PAIR_JUDGE)
    return tmp_path


def _calls(work: Path) -> int:
    path = work / "calls.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _three_runs(work: Path) -> tuple[Path, list[str]]:
    data = write_dataset(work / "items.jsonl", 20)
    # right on 3, 9 and 6 items in 10: contestant 1 is best, 0 worst
    runs = [mock_run(work, data, name, [(i * 7) % 10 < k for i in range(20)])
            for name, k in (("low", 3), ("high", 9), ("mid", 6))]
    return data, runs


def test_arena_run_judges_every_pair_in_both_orders_stores_and_rates(work):
    data, runs = _three_runs(work)
    args = ["arena", "run", "--models", *runs, "--task", str(data), "--judge",
            "python/pair_judge.py:grade", "--max-attempts", "1", "--boot", "200", "--json"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    # 3 pairs x 20 prompts, each judged in both orders; prompt 3 has no verdict: flagged
    assert _calls(work) == 3 * 20 * 2
    assert board["n_battles"] == 57 and board["flagged"] == {
        "judge gave no verdict in both orders": 3}
    names = [r["name"] for r in board["rows"]]
    assert [n[-6:] for n in names] == [runs[1][-6:], runs[2][-6:], runs[0][-6:]]
    top = board["rows"][0]
    assert top["ci_low"] < top["rating"] < top["ci_high"] and top["rank_low"] == 1
    with Store.open(str(work / "store.db")) as st:
        stored = list_battles(st, "items")
    assert len(stored) == 60
    judged = [b for b in stored if b.outcome is not None]
    assert all(b.decided_by == "judge" and b.consistent is not None and b.template_hash
               for b in judged)
    flagged = [b for b in stored if b.outcome is None]
    assert {b.prompt_id for b in flagged} == {"s0003"} and "both orders" in flagged[0].flag
    # a rerun judges nothing decided again: only the 3 flagged battles are retried
    again = invoke(*args)
    assert again.exit_code == 0, again.output
    assert _calls(work) == 3 * 20 * 2 + 3 * 2
    with Store.open(str(work / "store.db")) as st:
        assert len(list_battles(st, "items")) == 60


def test_budget_spends_exactly_that_many_battles_chosen_by_active_choice(work):
    data, runs = _three_runs(work)
    result = invoke("arena", "run", "--models", *runs, "--task", str(data), "--judge",
                    "python/pair_judge.py:grade", "--budget", "12", "--boot", "100",
                    "--no-progress", "--max-attempts", "1")
    assert result.exit_code == 0, result.output
    with Store.open(str(work / "store.db")) as st:
        stored = list_battles(st, "items")
    assert len(stored) == 12 and _calls(work) == 24
    assert len({(b.model_a, b.model_b, b.prompt_id) for b in stored}) == 12


def test_baseline_mode_judges_each_contestant_against_the_baseline_only(work):
    data, runs = _three_runs(work)
    result = invoke("arena", "run", "--models", runs[0], runs[2], "--baseline", runs[1],
                    "--task", str(data), "--judge", "python/pair_judge.py:grade",
                    "--boot", "100", "--no-progress", "--arena", "vs-baseline")
    assert result.exit_code == 0, result.output
    with Store.open(str(work / "store.db")) as st:
        stored = list_battles(st, "vs-baseline")
    assert len(stored) == 40
    assert all(b.model_b.endswith(runs[1][-6:]) for b in stored)


def test_judge_pairwise_stores_its_battles(work):
    data, runs = _three_runs(work)
    result = invoke("judge", "pairwise", runs[0], runs[1], "--judge",
                    "python/pair_judge.py:grade", "--max-attempts", "1", "--json")
    assert result.exit_code == 0, result.output
    board = invoke("arena", "leaderboard", "items", "--boot", "100", "--json")
    assert board.exit_code == 0, board.output
    out = json.loads(board.stdout)
    assert out["n_battles"] == 19 and sum(out["flagged"].values()) == 1
    assert out["rows"][0]["name"].endswith(runs[1])


FASTCHAT_ROWS = [
    {"question_id": "q1", "model_a": "alpha", "model_b": "beta", "winner": "model_a",
     "judge": "arena_user_1", "turn": 1, "anony": True, "tstamp": 1700000000.0},
    {"question_id": "q1", "model_a": "beta", "model_b": "gamma", "winner": "tie",
     "judge": "arena_user_2", "turn": 1, "tstamp": 1700000001.0},
    {"question_id": "q2", "model_a": "gamma", "model_b": "alpha", "winner": "tie (bothbad)",
     "judge": "arena_user_3", "turn": 1},
    {"question_id": "q2", "model_a": "alpha", "model_b": "beta", "winner": "model_b"},
    {"question_id": "q3", "model_a": "gamma", "model_b": "beta", "winner": "model_a"},
    {"question_id": "q3", "model_a": "alpha", "model_b": "gamma", "winner": "left"},
    {"question_id": "q4", "model_a": "beta", "model_b": "beta", "winner": "model_a"},
]


def test_fastchat_import_flags_unknown_outcomes_and_self_battles_and_is_idempotent(work):
    log = work / "clean_battle.json"
    log.write_text(json.dumps(FASTCHAT_ROWS))
    first = invoke("arena", "import", str(log), "--format", "fastchat", "--arena", "chat")
    assert first.exit_code == 0, first.output
    assert "7 battle(s) read, 7 added, 2 flagged" in first.output
    assert "unknown winner 'left'" in first.output and "self-battle" in first.output
    again = invoke("arena", "import", str(log), "--format", "fastchat", "--arena", "chat")
    assert "0 added, 7 already stored" in again.output
    board = invoke("arena", "leaderboard", "chat", "--boot", "100", "--json")
    out = json.loads(board.stdout)
    assert out["n_battles"] == 5 and out["flagged"] == {"unknown winner": 1, "a self-battle": 1}
    with Store.open(str(work / "store.db")) as st:
        stored = list_battles(st, "chat")
    assert [b.outcome for b in stored[:3]] == ["a", "tie", "bad"]
    assert stored[0].labeller == "arena_user_1" and stored[0].decided_by == "import"


def test_fastchat_rows_that_are_not_battles_stop_with_file_line_and_field(work):
    log = work / "bad.jsonl"
    log.write_text(json.dumps(FASTCHAT_ROWS[0]) + "\n" + json.dumps({"model_a": "x"}) + "\n")
    result = invoke("arena", "import", str(log), "--format", "fastchat", "--arena", "chat")
    assert result.exit_code != 0
    assert f"{log}:2: field 'model_b' is missing" in result.output
    broken = work / "broken.jsonl"
    broken.write_text('{"model_a": "x", \n')
    result = invoke("arena", "import", str(broken), "--format", "fastchat", "--arena", "chat")
    assert result.exit_code != 0 and f"{broken}:1: not valid JSON" in result.output
    with Store.open(str(work / "store.db")) as st:
        assert list_battles(st, "chat") == []


def test_contestants_that_never_meet_are_named_by_group(work):
    rows = [{"question_id": f"q{i}", "model_a": a, "model_b": b, "winner": w}
            for i, (a, b, w) in enumerate([("a", "b", "model_a"), ("b", "a", "model_a"),
                                           ("c", "d", "model_b"), ("d", "c", "tie")])]
    log = work / "split.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert invoke("arena", "import", str(log), "--format", "fastchat", "--arena",
                  "split").exit_code == 0
    result = invoke("arena", "leaderboard", "split")
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "fall into 2 groups that never meet" in text and "{a, b}" in text and "{c, d}" in text


def test_unknown_arena_lists_the_stored_ones(work):
    log = work / "chat.json"
    log.write_text(json.dumps(FASTCHAT_ROWS[:4]))
    invoke("arena", "import", str(log), "--format", "fastchat", "--arena", "chat")
    result = invoke("arena", "leaderboard", "nope")
    assert result.exit_code != 0 and "No arena named 'nope'" in result.output
    assert "chat (4)" in result.output


@pytest.mark.skipif(not LLMBAR_MT.exists(), reason="the shared LLMBar data is not here")
def test_llmbar_human_pairs_import_and_say_why_they_cannot_be_one_leaderboard(work):
    result = invoke("arena", "import", str(LLMBAR_MT), "--format", "llmbar", "--arena",
                    "mt-bench-human")
    assert result.exit_code == 0, result.output
    assert "200 battle(s) read, 200 added" in result.output
    with Store.open(str(work / "store.db")) as st:
        stored = list_battles(st, "mt-bench-human")
    assert sum(b.outcome == "a" for b in stored) == 101 and len(stored) == 200
    board = invoke("arena", "leaderboard", "mt-bench-human", "--boot", "100")
    # the file names no models: answers meet only within their own instruction
    assert board.exit_code != 0 and "groups that never meet" in board.output


LONGER_JUDGE = '''
import json, re

def grade(messages):
    text = messages[-1]["content"]
    found = dict(re.findall(r"<<<([A-Z_0-9]+)-\\w+>>>\\n(.*?)\\n<<<END-", text, re.S))
    one, two = found.get("RESPONSE_1", ""), found.get("RESPONSE_2", "")
    with open("turn2.txt", "a") as f:
        if "### User:" in one:
            f.write(found["INSTRUCTION"][:200].replace("\\n", " ") + "\\n")
    return json.dumps({"rationale": "longer", "winner": "1" if len(one) > len(two) else "2"})
'''


def test_mt_bench_pairwise_baseline_mode_judges_both_turns(work):
    (work / "longer.py").write_text(LONGER_JUDGE)
    runs = []
    for text in ("short", "a much longer and more detailed answer"):
        done = invoke("run", "mt_bench", "-m", "mock/constant", "-M", f"text={text}",
                      "--no-progress", "--json")
        assert done.exit_code == 0, done.output
        runs.append(json.loads(done.stdout)["run_id"])
    result = invoke("arena", "run", "--models", runs[0], "--baseline", runs[1], "--task",
                    "mt_bench", "--judge", "python/longer.py:grade", "--boot", "100", "--json")
    assert result.exit_code == 0, result.output
    with Store.open(str(work / "store.db")) as st:
        stored = list_battles(st, "mt_bench")
    # FastChat's pairwise-baseline: 80 questions x 2 turns, each against the baseline
    assert len(stored) == 160 and {b.turn for b in stored} == {1, 2}
    assert all(b.outcome == "b" and b.consistent for b in stored)
    assert len({b.category for b in stored}) == 8
    # the second turn is judged on each whole conversation, asking about the last question
    asked = (work / "turn2.txt").read_text().splitlines()
    assert len(asked) == 2 * 80 and all("last user question" in q for q in asked)
    board = json.loads(result.stdout)
    assert board["rows"][0]["name"] == "mock/constant#" + runs[1][-6:]
    assert board["n_prompts"] == 80  # both turns of a question resample together


CONTESTANTS = '''
def _log(name):
    with open("answers.txt", "a") as f:
        f.write(name + "\\n")

def right(prompt):
    _log("right")
    return "a" + prompt[1:]

def wrong(prompt):
    _log("wrong")
    return "no idea"
'''


def test_model_contestants_are_run_once_and_reused_from_the_store(work):
    (work / "contestants.py").write_text(CONTESTANTS)
    data = write_dataset(work / "items.jsonl", 10)
    args = ["arena", "run", "--models", "python/contestants.py:right",
            "python/contestants.py:wrong", "--task", str(data), "--judge",
            "python/pair_judge.py:grade", "--max-attempts", "1", "--boot", "100", "--json"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    answered = (work / "answers.txt").read_text().splitlines()
    assert sorted(set(answered)) == ["right", "wrong"] and len(answered) == 20
    board = json.loads(first.stdout)
    assert board["rows"][0]["name"] == "python/contestants.py:right"
    assert board["n_battles"] == 9  # item 3: no verdict, flagged
    calls = _calls(work)
    again = invoke(*args)
    assert again.exit_code == 0, again.output
    # no contestant is asked again; only the flagged battle is judged again
    assert len((work / "answers.txt").read_text().splitlines()) == 20
    assert _calls(work) == calls + 2


def test_a_decided_self_battle_is_counted_as_flagged_not_fitted(work):
    from evalstack.analysis.arena import leaderboard
    from evalstack.store.battles import BattleRecord

    battles = [BattleRecord(arena="x", prompt_id=str(i), model_a=a, model_b=b, outcome=o,
                            decided_by="human", labeller="ann")
               for i, (a, b, o) in enumerate([("p", "q", "a"), ("q", "p", "tie"),
                                              ("p", "p", "a"), ("q", "p", "b")])]
    board = leaderboard(battles, arena="x", n_boot=100)
    assert board.n_battles == 3 and board.flagged == {"a self-battle": 1}
