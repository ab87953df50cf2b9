"""The one thing pyproject.toml cannot say: the source folder resources/ is installed as the package
`cnn_designer_resources` (a name no other distribution will use), beside the packages under engine/ and
designer/. Everything else about the build is in pyproject.toml."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["engine", "engine.*", "designer", "designer.*"])
    + ["cnn_designer_resources"],
    package_dir={"cnn_designer_resources": "resources"},
)
