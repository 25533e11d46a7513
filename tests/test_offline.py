"""swjax without pooch: the public files from a folder (SWJAX_DATA_DIR), nothing downloaded.

pooch is needed only to download; a machine without it (a GPU node, say) reads the files from
the folder, and a file that is not there is one clear error.
"""

import sys

import pytest

import swjax
from swjax import data


@pytest.fixture
def no_pooch(monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)  # `import pooch` now raises ImportError


def test_public_sets_load_without_pooch(no_pooch):
    with pytest.raises(ImportError):
        import pooch  # noqa: F401
    chat = swjax.load_dataset("chat")
    assert chat.scores.shape[0] == 26


def test_missing_file_without_pooch_is_one_clear_error(no_pooch, tmp_path, monkeypatch):
    monkeypatch.setenv("SWJAX_DATA_DIR", str(tmp_path))
    with pytest.raises(swjax.SwjaxError, match="pooch, needed to download it, is not installed"):
        swjax.load_dataset("base")


def test_cache_folder_without_pooch(no_pooch, monkeypatch, tmp_path):
    monkeypatch.delenv("SWJAX_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.data_dir() == tmp_path / "swjax"
