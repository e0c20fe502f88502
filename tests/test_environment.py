"""environment.yml (the GPU server's conda environment) and pyproject.toml (pip) name the
same packages with the same lower bounds, so the two never drift."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# pip name -> conda-forge name, where they differ.
CONDA_NAMES = {"torch": "pytorch-gpu"}


def requirement(text: str) -> tuple[str, str]:
    """'scikit-learn>=1.3' -> ('scikit-learn', '>=1.3')."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", text)
    assert match, f"cannot read the requirement {text!r}"
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_names_every_pyproject_dependency_with_the_same_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = dict(requirement(r) for r in project["dependencies"])
    for extra in project["optional-dependencies"].values():
        pip.update(requirement(r) for r in extra)
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(requirement(d) for d in environment["dependencies"] if isinstance(d, str))
    # Packages conda-forge does not have are installed by pip inside the environment.
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            conda.update(requirement(d) for d in entry.get("pip", []))
    conda.pop("python")
    conda.pop("pip", None)
    expected = {CONDA_NAMES.get(name, name): bound for name, bound in pip.items()}
    assert conda == expected


def test_environment_yml_uses_conda_forge_alone():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
