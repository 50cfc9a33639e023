"""Terminal output that shows data as text: no escape sequence from data reaches the terminal.

Dataset fields, model outputs, judges' replies and anything read back from the store can hold
control characters: ``ESC ] 0 ; title BEL`` sets the window title, ``ESC [ 2 J`` clears the
screen. Every string the CLI prints goes through :func:`evalstack.core.text.visible` at one of
two boundaries:

- ``SafeConsole``, the rich console every command prints with (``render.make_console``): its
  ``render_str`` covers plain strings, table cells and titles, and its ``render`` covers
  ``Text`` objects built directly. Markup and emoji codes are off by default, so brackets and
  colons in data are shown as typed; a call that wants markup asks for it and escapes the data
  it interpolates.
- ``echo``, for the lines printed with click.

Colours and styles are still rendered by rich, as escape sequences rich itself writes. JSON
output is left alone: ``json.dumps`` (with its default ``ensure_ascii=True``) writes every
control character as ``\\uNNNN``. Exports keep the data exactly as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Span, Text

from evalstack.core.text import visible


def visible_text(text: Text) -> Text:
    """A copy of ``text`` with its characters made visible and its styles kept in place.

    rich's ``Text`` drops BEL, BS, VT, FF and CR when it is made, so build it from
    ``visible(data)`` to show those too; this catches the rest (ESC, C1, ...) in any ``Text``.
    """
    plain = text.plain
    shown = visible(plain)
    if shown == plain:
        return text
    # Where each offset of the original lands in the shown text, to move the style spans.
    offsets = [0]
    for ch in plain:
        offsets.append(offsets[-1] + len(visible(ch)))
    end = len(plain)
    spans = [Span(offsets[min(s.start, end)], offsets[min(s.end, end)], s.style)
             for s in text.spans]
    return Text(shown, style=text.style, justify=text.justify, overflow=text.overflow,
                no_wrap=text.no_wrap, end=text.end, tab_size=text.tab_size, spans=spans)


class SafeConsole(Console):
    """A rich ``Console`` that shows control characters in what it prints, never sends them.

    Examples:
        >>> import io
        >>> out = io.StringIO()
        >>> SafeConsole(file=out, width=40).print("title \\x1b]0;pwned\\x07 [bold]x")
        >>> out.getvalue()
        'title \\\\x1b]0;pwned\\\\x07 [bold]x\\n'
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        super().__init__(*args, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible(text), **kwargs)

    def render(self, renderable: RenderableType,
               options: ConsoleOptions | None = None) -> Iterable[Segment]:
        if isinstance(renderable, Text):
            renderable = visible_text(renderable)
        return super().render(renderable, options)


def echo(message: str = "", *, err: bool = False) -> None:
    """``click.echo`` for text that may quote data: control characters are made visible."""
    click.echo(visible(message), err=err)
