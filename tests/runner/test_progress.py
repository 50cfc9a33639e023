import io

from rich.console import Console

from evalstack.runner.progress import RichProgress


def test_progress_bar_shows_done_total_rate_eta_errors_and_cost():
    out = io.StringIO()
    progress = RichProgress(Console(file=out, force_terminal=True, width=150))
    progress.start("demo · mock/echo", total=10, completed=4)
    for i in range(6):
        progress.advance(errors=1 if i > 2 else 0, cost=0.25 * (i + 1))
    progress.finish()
    text = out.getvalue()
    assert "demo · mock/echo" in text
    assert "10/10" in text and "100%" in text
    assert "ETA" in text
    assert "errors 1" in text
    assert "$1.5000" in text
