from solution import hash_password, verify_password

FAST = 1_000  # keep the suite quick; production uses the default


def test_roundtrip():
    stored = hash_password("correct horse", iterations=FAST)
    assert verify_password("correct horse", stored) is True


def test_wrong_password_rejected():
    stored = hash_password("correct horse", iterations=FAST)
    assert verify_password("correct horse ", stored) is False
    assert verify_password("Correct horse", stored) is False


def test_hashes_are_salted():
    first = hash_password("hunter2", iterations=FAST)
    second = hash_password("hunter2", iterations=FAST)
    assert first != second
    assert verify_password("hunter2", first)
    assert verify_password("hunter2", second)


def test_stored_format_has_four_fields_and_16_byte_salt():
    parts = hash_password("s3cret", iterations=FAST).split("$")
    assert len(parts) == 4
    assert len(bytes.fromhex(parts[2])) == 16


def test_unicode_password():
    stored = hash_password("pässwörd-🔑", iterations=FAST)
    assert verify_password("pässwörd-🔑", stored)
    assert not verify_password("passwort-🔑", stored)


def test_malformed_stored_value_returns_false():
    for bad in ["", "nonsense", "pbkdf2_sha256$abc$zz$zz", "a$b$c"]:
        assert verify_password("anything", bad) is False
