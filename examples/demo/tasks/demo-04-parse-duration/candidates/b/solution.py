def parse_duration(text: str) -> int:
    """
    Convert a duration string like "1h30m" into seconds.

    The trick here is to turn the duration into an arithmetic expression,
    e.g. "1h30m" -> "1*3600+30*60", and let Python evaluate it.
    """
    multipliers = {
        "d": "*86400+",
        "h": "*3600+",
        "m": "*60+",
        "s": "*1+",
    }

    expression = text.strip()
    for unit, replacement in multipliers.items():
        expression = expression.replace(unit, replacement)
    expression = expression.rstrip("+")

    try:
        result = eval(expression)
    except Exception:
        raise ValueError(f"Invalid duration: {text}")

    if not isinstance(result, int):
        raise ValueError(f"Invalid duration: {text}")
    return result
