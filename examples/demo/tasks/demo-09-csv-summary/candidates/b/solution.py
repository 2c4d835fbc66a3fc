def summarize_column(path: str, column: str) -> dict:
    """
    Compute summary statistics for a numeric column in a CSV file.

    Args:
        path: Path to the CSV file.
        column: Name of the column to summarise.

    Returns:
        A dictionary with count, min, max and mean.
    """
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()

    header = lines[0].split(",")
    if column not in header:
        raise KeyError(column)
    index = header.index(column)

    values = []
    for line in lines[1:]:
        fields = line.split(",")
        cell = fields[index].strip() if index < len(fields) else ""
        if cell:
            values.append(float(cell))

    if not values:
        return {"count": 0, "min": None, "max": None, "mean": None}

    return {
        "count": len(values),
        "min": min(values),
        "max": max(values),
        "mean": round(sum(values) / len(values), 2),
    }
