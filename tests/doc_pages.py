"""README.md and docs/*.md read as Markdown, for tests/test_docs.py: fenced blocks, shell
commands, code spans, links, and where a module or name named in them lives."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 170
NOT_A_STUDY = "<!-- not-a-study"
SHELL = {"bash", "console", "sh", "shell"}
# top-level folders whose paths a page may name in a code span
REPO_DIRS = ("src/", "tests/", "bench/", "workflow/", "profiles/", "config/", "docs/", ".ci/")
PLACEHOLDER = re.compile(r"[<>…{}]")  # results/runs/<hash>/, config/….yaml: not a real path
CONFIG_PATH = re.compile(r"(?<![\w/.-])(config/[\w.-]+\.ya?ml|config\.yaml)(?![\w/-])")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
MODULE = re.compile(r"^ablate(\.[A-Za-z_][A-Za-z0-9_]*)+$")
IMPORT = re.compile(r"from (ablate(?:\.\w+)*) import ([\w, ]+)")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    not_a_study: bool

    @property
    def where(self) -> str:
        return f"{rel(self.page)}:{self.line} (```{self.lang} block)"


@dataclass(frozen=True)
class Snippet:
    """A shell command line shown on a page: a line of a shell block or a code span."""

    id: str  # page:line
    where: str  # page:line and what was shown
    text: str


def fenced_blocks(page: Path) -> tuple[list[Block], list[tuple[int, str]]]:
    """The page's fenced blocks, and its other lines (numbered) for code spans and links."""
    blocks, prose = [], []
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```\s*([\w-]*)", lines[i])
        if not fence:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"{rel(page)}:{start + 1}: a code block is never closed"
        before = next((line for line in reversed(lines[:start]) if line.strip()), "")
        marked = before.strip().startswith(NOT_A_STUDY)
        blocks.append(Block(page, start + 1, fence[2].lower(), "\n".join(body) + "\n", marked))
        i += 1
    return blocks, prose


BLOCKS = [block for page in PAGES for block in fenced_blocks(page)[0]]
YAML_BLOCKS = [b for b in BLOCKS if b.lang in ("yaml", "yml")]


def paragraphs(page: Path) -> list[tuple[int, str]]:
    """(first line, text) of each run of prose lines between blank lines and blocks: a
    code span or a link may wrap onto the next line."""
    out: list[tuple[int, list[str]]] = []
    last = -1
    for number, line in fenced_blocks(page)[1]:
        if not line.strip():
            last = -1
            continue
        if number != last + 1:
            out.append((number, []))
        out[-1][1].append(line)
        last = number
    return [(start, "\n".join(lines)) for start, lines in out]


def found_in_prose(pattern: re.Pattern) -> list[tuple[str, str]]:
    """(page:line, first group) of every match of `pattern` outside fenced blocks."""
    found = []
    for page in PAGES:
        for start, text in paragraphs(page):
            for match in pattern.finditer(text):
                line = start + text.count("\n", 0, match.start())
                found.append((f"{rel(page)}:{line}", " ".join(match[1].split())))
    return found


def code_spans() -> list[tuple[str, str]]:
    """(page:line, text) of every inline code span outside fenced blocks."""
    return found_in_prose(CODE_SPAN)


def shell_snippets() -> list[Snippet]:
    """Every command line of a shell block (comments and `$ ` prompts dropped, `\\`
    continuations joined), and every code span that starts like a command."""
    snippets = []
    for block in BLOCKS:
        if block.lang not in SHELL:
            continue
        pending, first = "", 0
        for offset, raw in enumerate(block.text.splitlines(), start=1):
            first = first or block.line + offset
            if raw.endswith("\\"):
                pending += raw[:-1] + " "
                continue
            line = re.sub(r"(^|\s)#.*$", "", pending + raw).strip().removeprefix("$ ")
            if line:
                where = f"{rel(block.page)}:{first}"
                snippets.append(Snippet(where, f"{where} (```{block.lang}): {line!r}", line))
            pending, first = "", 0
    for where, span in code_spans():
        if re.match(r"^(ablate|make|snakemake|python3? -m ablate|(\w+=\S+ )+snakemake) ", span):
            snippets.append(Snippet(where, f"{where}: `{span}`", span))
    return snippets


SNIPPETS = shell_snippets()


def commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line (split at ; && || | outside quotes), as tokens,
    leading VAR=value assignments dropped. A line with an open quote (the first line of a
    multi-line `python -c '...'`) is one command."""
    operators = ";&|()"
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=operators)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        tokens = line.split()
    out, current = [], []
    for token in [*tokens, ";"]:
        if token and set(token) <= set(operators):
            while current and re.match(r"^[A-Z_][A-Z0-9_]*=", current[0]):
                current = current[1:]
            if current:
                out.append(current)
            current = []
        else:
            current.append(token)
    return out


def ablate_args(tokens: list[str]) -> list[str] | None:
    """The arguments after `ablate` (or `python -m ablate`), or None for another program."""
    if tokens[0] == "ablate":
        return tokens[1:]
    if (
        len(tokens) >= 3
        and re.match(r"^python3?(\.\d+)?$", tokens[0])
        and tokens[1:3]
        == [
            "-m",
            "ablate",
        ]
    ):
        return tokens[3:]
    return None


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {
        target
        for line in re.findall(r"^([^\s#=:][^=:]*):(?!=)", text, flags=re.M)
        for target in line.split()
        if not target.startswith((".", "$"))
    }


def tiny_study() -> dict:
    return yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())


def module_file(dotted: str) -> Path | None:
    base = ROOT / "src" / Path(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def resolves(dotted: str, names: tuple[str, ...] = ()) -> bool:
    """`ablate.a.b` is a module, or `ablate.a.b.name` a name defined in one, and every
    one of `names` is defined in the module (a file-level look, no import)."""
    path = module_file(dotted)
    if path is None:
        module, _, attribute = dotted.rpartition(".")
        path, names = module_file(module), (attribute, *names)
        if path is None:
            return False
    source = path.read_text()
    return all(
        re.search(rf"^\s*(def|class) {n}\b|^{n}\b\s*[:=]|\bimport .*\b{n}\b", source, re.M)
        or (path.parent / n).is_dir()
        or (path.parent / f"{n}.py").is_file()
        for n in names
    )
