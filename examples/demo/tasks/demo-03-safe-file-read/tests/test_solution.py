import pytest

from solution import read_file


@pytest.fixture
def site(tmp_path):
    base = tmp_path / "docs"
    (base / "guides").mkdir(parents=True)
    (base / "index.md").write_text("# Welcome\n", encoding="utf-8")
    (base / "guides" / "setup.md").write_text("Install it. ✓\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("top secret\n", encoding="utf-8")
    (tmp_path / "docs-private").mkdir()
    (tmp_path / "docs-private" / "notes.txt").write_text("private\n", encoding="utf-8")
    return base


def test_reads_file_in_base(site):
    assert read_file(str(site), "index.md") == "# Welcome\n"


def test_reads_file_in_subdirectory(site):
    assert read_file(str(site), "guides/setup.md") == "Install it. ✓\n"


def test_missing_file_raises_file_not_found(site):
    with pytest.raises(FileNotFoundError):
        read_file(str(site), "nope.md")


def test_parent_directory_is_rejected(site):
    with pytest.raises(ValueError):
        read_file(str(site), "../secret.txt")


def test_sibling_with_common_prefix_is_rejected(site):
    with pytest.raises(ValueError):
        read_file(str(site), "../docs-private/notes.txt")


def test_dot_segments_inside_base_are_fine(site):
    assert read_file(str(site), "guides/../index.md") == "# Welcome\n"
