"""Paths a transfer may touch: only under the Jupyter server's root dir (``mllab.extensions.lab.paths``)."""

from __future__ import annotations

import pytest
from mllab.extensions.lab.paths import PathError, confine


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "home"
    (root / "data" / "iris").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (root / "out").symlink_to(tmp_path / "elsewhere")
    (root / "in").symlink_to(root / "data")
    return root


@pytest.mark.parametrize("path, where", [
    ("data/iris", "data/iris"),
    ("data/iris/", "data/iris"),
    ("./data", "data"),
    ("", ""),
    (".", ""),
    ("new/folder", "new/folder"),
    ("in/iris", "data/iris"),
], ids=["folder", "trailing-slash", "dot", "empty-is-root", "root", "missing-is-fine", "link-inside"])
def test_paths_under_the_root(root, path, where):
    assert confine(root, path) == (root / where).resolve()


@pytest.mark.parametrize("path, why", [
    ("../elsewhere", "'..'"),
    ("data/../../elsewhere", "'..'"),
    ("/etc/passwd", "absolute"),
    ("out", "symbolic link"),
    ("out/file", "symbolic link"),
    ("data\x00", "NUL"),
    (None, "must be a string"),
], ids=["up", "up-inside", "absolute", "link-out", "below-a-link-out", "nul", "not-a-string"])
def test_paths_leaving_the_root_are_refused(root, path, why):
    with pytest.raises(PathError, match=why):
        confine(root, path)


def test_a_root_that_is_itself_a_link(tmp_path, root):
    (tmp_path / "link-to-home").symlink_to(root)
    assert confine(tmp_path / "link-to-home", "data") == (root / "data").resolve()
