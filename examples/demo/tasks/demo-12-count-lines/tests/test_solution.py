import pytest

from solution import count_lines


def test_counts_newlines(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"first\nsecond\nthird\n")
    assert count_lines(str(path)) == 3


def test_no_trailing_newline_like_wc(tmp_path):
    path = tmp_path / "partial.log"
    path.write_bytes(b"a\nb")
    assert count_lines(str(path)) == 1


def test_empty_file(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    assert count_lines(str(path)) == 0


def test_binary_content(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\xff\xfe\x00\n\x80\x81\n")
    assert count_lines(str(path)) == 2


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        count_lines(str(tmp_path / "missing.log"))
