import pytest

from solution import summarize_column


def write(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_simple_column(tmp_path):
    path = write(tmp_path, "name,amount\nann,10\nbob,5.5\ncid,-3\n")
    assert summarize_column(path, "amount") == {"count": 3, "min": -3.0, "max": 10.0, "mean": 4.17}


def test_quoted_fields_with_commas(tmp_path):
    path = write(tmp_path, 'name,amount\n"Smith, John",10\nAnn,5.5\n')
    assert summarize_column(path, "amount") == {"count": 2, "min": 5.5, "max": 10.0, "mean": 7.75}


def test_blank_cells_are_skipped(tmp_path):
    path = write(tmp_path, "name,amount\nann,\nbob,4\n")
    assert summarize_column(path, "amount")["count"] == 1


def test_empty_column(tmp_path):
    path = write(tmp_path, "name,amount\nann,\n")
    assert summarize_column(path, "amount") == {"count": 0, "min": None, "max": None, "mean": None}


def test_missing_column_raises_key_error(tmp_path):
    path = write(tmp_path, "name,amount\nann,1\n")
    with pytest.raises(KeyError):
        summarize_column(path, "price")


def test_non_numeric_raises_value_error(tmp_path):
    path = write(tmp_path, "name,amount\nann,lots\n")
    with pytest.raises(ValueError):
        summarize_column(path, "amount")
