"""A deliberately small JavaScript minifier, used only to *measure* beacon.js (no npm dependency).

It drops comments and whitespace but keeps strings, template literals and regex literals intact; it does not rename
identifiers, so a real minifier (terser) only does better. Newlines are dropped too, so the source must not rely on
automatic semicolon insertion across lines; the tests check the output with `node --check` when node is present.
"""

from __future__ import annotations

WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
# After these tokens a "/" starts a regex literal rather than a division.
REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^")
REGEX_KEYWORDS = {"return", "typeof", "case", "do", "else", "in", "of", "void", "delete", "throw"}


def _scan_string(src: str, i: int) -> int:
    quote, j = src[i], i + 1
    while src[j] != quote:
        if quote == "`" and src.startswith("${", j):
            raise ValueError("template literal substitutions are not supported by this minifier")
        j += 2 if src[j] == "\\" else 1
    return j + 1


def _scan_regex(src: str, i: int) -> int:
    j, in_class = i + 1, False
    while True:
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == "\n":
            raise ValueError(f"unterminated regex literal at {i}")
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            j += 1
            while j < len(src) and src[j] in WORD:
                j += 1
            return j
        j += 1


def minify(src: str) -> str:
    out: list[str] = []
    last = ""  # the last token emitted
    gap = False  # whitespace or a comment since the last token
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            gap, i = True, i + 1
            continue
        if src.startswith("//", i):
            end = src.find("\n", i)
            gap, i = True, (n if end < 0 else end)
            continue
        if src.startswith("/*", i):
            gap, i = True, src.index("*/", i + 2) + 2
            continue
        if c in "'\"`":
            j = _scan_string(src, i)
        elif c == "/" and (not last or last[-1] in REGEX_AFTER or last in REGEX_KEYWORDS):
            j = _scan_regex(src, i)
        elif c in WORD:
            j = i
            while j < n and src[j] in WORD:
                j += 1
        else:
            j = i + 1
        token = src[i:j]
        if token == "}" and last == ";":  # ";}" -> "}" is always equivalent
            out.pop()
        # Keep one space only where dropping it would join two words or make "+ +" into "++".
        if gap and last and ((last[-1] in WORD and token[0] in WORD) or (last[-1] in "+-" and token[0] == last[-1])):
            out.append(" ")
        out.append(token)
        last, gap, i = token, False, j
    return "".join(out)


def main(argv: list[str]) -> None:
    """`python -m tests.jsmin SOURCE TARGET` (what `make beacon` runs): write SOURCE minified to TARGET."""
    source, target = argv
    with open(source, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as out:
        out.write(minify(src.read()))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
