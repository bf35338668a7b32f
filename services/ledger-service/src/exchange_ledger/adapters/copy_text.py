"""PostgreSQL COPY text format, built in bulk.

One ``write_row`` call per row cost ~3 µs of Python each (9 rows a trade); building the
lines with f-strings and sending one string per table is several times cheaper. Only
text columns need escaping (backslash, tab, newline, carriage return); bytea goes as
``\\x<hex>``; NULL is ``\\N``.
"""

NULL = "\\N"


def text(value: str | None) -> str:
    if value is None:
        return NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return value


def bytea(value: bytes) -> str:
    return "\\\\x" + value.hex()


def number(value: int | None) -> str:
    return NULL if value is None else str(value)
