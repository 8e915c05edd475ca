import re

SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$"
_SLUG = re.compile(SLUG_PATTERN)


def is_valid(slug: str) -> bool:
    return _SLUG.fullmatch(slug) is not None
