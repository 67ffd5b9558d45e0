"""Package layout only (metadata is in pyproject.toml).

The repository keeps its top-level folders (harness/, implementations/, suites/); the wheel
installs them under the single import name ``harness`` so that it adds no top-level names
that other projects may use.
"""

from setuptools import find_packages, setup

PACKAGE_DIR = {
    "harness": "harness",
    "harness.implementations": "implementations",
    "harness.suites": "suites",
}

packages = ["harness", *(f"harness.{p}" for p in find_packages("harness"))]
for name, folder in PACKAGE_DIR.items():
    if name != "harness":
        packages += [name, *(f"{name}.{p}" for p in find_packages(folder))]

setup(package_dir=PACKAGE_DIR, packages=packages)
