import pytest

from evalstack.core.errors import ConfigError
from evalstack.core.types import Sample
from evalstack.solvers.templates import PromptTemplate, render_choices, target_letter


def test_render_with_fewshot_and_metadata():
    shot = Sample("s", "1+1?", "2", metadata={"topic": "sums"})
    t = PromptTemplate("[{topic}] Q: {input}\nA:", fewshot=(shot,))
    out = t.render(Sample("q", "2+2?", "4", metadata={"topic": "sums"}))
    assert out == "[sums] Q: 1+1?\nA: 2\n\n[sums] Q: 2+2?\nA:"


def test_unknown_field_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"uses \{subject\}.*Available fields"):
        PromptTemplate("{subject}: {input}").check(Sample("q", "x", "y"))


def test_invalid_template_syntax():
    with pytest.raises(ConfigError, match="double literal braces"):
        PromptTemplate("{input")


def test_choices_and_target_letter():
    s = Sample("q", "Pick", "1", choices=("x", "y", "z"))
    assert render_choices(s.choices) == "A. x\nB. y\nC. z"
    assert target_letter(s) == "B"
    assert target_letter(Sample("q", "Pick", "z", choices=("x", "y", "z"))) == "C"
    assert target_letter(Sample("q", "Pick", "a", choices=("x", "y"))) == "A"
    with pytest.raises(ConfigError):
        target_letter(Sample("q", "Pick", "w", choices=("x", "y")))
