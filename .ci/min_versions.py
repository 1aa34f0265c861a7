"""Print the project's runtime dependencies pinned at their declared floors.

``numpy>=1.24`` in pyproject.toml becomes ``numpy==1.24``, one per line, for
``pip install`` in .ci/run's minimum-versions environment.
"""

import pathlib
import re

pyproject = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
block = re.search(r"^dependencies = \[(.*?)\]", pyproject.read_text(), re.M | re.S)
for name, floor in re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9.]+)"', block.group(1)):
    print(f"{name}=={floor}")
