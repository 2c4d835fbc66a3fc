from solution import slugify


def test_basic_title():
    assert slugify("Hello, World!") == "hello-world"


def test_runs_of_separators_collapse():
    assert slugify("  a -- b __ c  ") == "a-b-c"


def test_accents_are_transliterated():
    assert slugify("  Crème Brûlée -- 2024 recipe ") == "creme-brulee-2024-recipe"
    assert slugify("Ångström façade") == "angstrom-facade"


def test_non_latin_characters_dropped():
    assert slugify("Launch 🚀 day") == "launch-day"
    assert slugify("🚀🚀") == ""


def test_truncation_has_no_trailing_hyphen():
    assert slugify("one two three", max_length=8) == "one-two"
    assert len(slugify("word " * 40)) <= 50


def test_empty_string():
    assert slugify("") == ""
