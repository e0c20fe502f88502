"""The notebooks' Markdown is the student's report: no number typed into it (computed
numbers are rendered from the run by code, facts about real WikiArt from
``wikiart_facts``), and no sentence written from a course instructor's seat."""
import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))

# Text in which digits are not typed results: code, math, link targets, HTML comments.
_NOT_PROSE = [r"```.*?```", r"`[^`\n]*`", r"\$\$.*?\$\$", r"\$[^$\n]+\$", r"\]\([^)]*\)", r"<!--.*?-->"]
# Digits that are names or definitions, not measurements: years of a citation, "Part 2", "notebook 03"
# (and "03–05"), "2D" plots, numbered list steps, kernel shapes ("3x3"), the unit range "[0, 1]",
# number formats (bf16, float32), names with digits (macro-F1, log10, DINOv2, Stable Diffusion 1.5)
# and the confidence level of every interval.
_NAMES = [r"\b(19|20)\d\d[a-z]?\b", r"\b[Pp]art \d\b", r"\b[Nn]otebooks? \d\d(\s*(–|-|and|,|to)\s*\d\d)*\b",
          r"\b\d\d_\w+", r"\b[23]-?D\b", r"^\s*[-*]?\s*\(?\d+[.)]\s", r"\b[Bb]onus [AB]\b",
          r"\b\d+\s?[x×]\s?\d+\b", r"\[0, 1\]", r"\b(bf|fp)16\b", r"\bfloat(16|32|64)\b",
          r"\b[Ff]1\b", r"\blog10\b", r"DINOv2", r"Stable Diffusion ?v?\d(\.\d)?", r"\bSD ?\d(\.\d)?",
          r"\b95\s?% (bootstrap |confidence )?intervals?\b"]


def typed_numbers(markdown: str) -> list[str]:
    """The numbers typed into ``markdown`` (each with a little context), after removing
    code, math, links and the digits of names (see ``_NAMES``)."""
    text = markdown
    for pattern in _NOT_PROSE:
        text = re.sub(pattern, " ", text, flags=re.DOTALL)
    for pattern in _NAMES:
        text = re.sub(pattern, " ", text, flags=re.MULTILINE)
    return [text[max(0, m.start() - 30):m.end() + 30].replace("\n", " ")
            for m in re.finditer(r"\d+(?:[.,]\d+)*", text)]


def test_the_checker_finds_typed_numbers_and_spares_names():
    assert typed_numbers("the largest has 150 times more") and typed_numbers("2269 of 13.4k images")
    assert typed_numbers("reaches 41.8% on test")
    assert not typed_numbers("Part 2 (Dumoulin et al., 2017) in notebook 03, `--epochs 3`, $1/n_c$, a 2D map")
    assert not typed_numbers("1. first step\n2. second step\n[link](https://example.org/2017/x1)")


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda path: path.stem)
def test_no_number_is_typed_into_markdown(script):
    found = [f"cell {index}: ...{context}..." for index, cell in enumerate(jupytext.read(script).cells)
             if cell.cell_type == "markdown" for context in typed_numbers(cell.source)]
    assert not found, (f"{script.name}: numbers typed into Markdown (render them from the run's results, or "
                       "from wikiart_core.wikiart_facts, with results.show):\n" + "\n".join(found))


INSTRUCTOR_PHRASES = ["students", "a student", "original report", "the assignment's report",
                      "in-class students"]


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_text_is_the_students_own(script):
    text = script.read_text(encoding="utf-8").lower()
    found = [phrase for phrase in INSTRUCTOR_PHRASES if phrase in text]
    assert not found, f"{script.name}: written from an instructor's seat: {found}"
