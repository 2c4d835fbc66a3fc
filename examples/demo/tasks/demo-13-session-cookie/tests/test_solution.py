from solution import dump_session, load_session

SECRET = b"test-secret-key"


def test_roundtrip():
    data = {"user_id": 42, "admin": False, "name": "Zoë", "tags": ["a", "b"]}
    cookie = dump_session(data, SECRET)
    assert load_session(cookie, SECRET) == data


def test_cookie_is_ascii_with_one_dot():
    cookie = dump_session({"user_id": 1}, SECRET)
    assert cookie.isascii()
    assert cookie.count(".") == 1
    assert ";" not in cookie and " " not in cookie


def test_wrong_secret_rejected():
    cookie = dump_session({"user_id": 1}, SECRET)
    assert load_session(cookie, b"other-secret") is None


def test_tampered_signature_rejected():
    cookie = dump_session({"user_id": 1}, SECRET)
    payload, signature = cookie.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert load_session(f"{payload}.{flipped}", SECRET) is None


def test_malformed_cookie_returns_none():
    for bad in ["", "no-dot-here", "...", "!!!.???"]:
        assert load_session(bad, SECRET) is None
