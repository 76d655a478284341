"""The README and docs/ show only commands and configs that work.

Every page (README.md and docs/*.md) is read as Markdown:
- every ```yaml block parses; a whole study (a top-level `study:` key) expands with
  ablate.study.expand.expand_study, run from the repository root; a fragment (`tasks:`,
  `status:`, execution settings ...) expands once merged into config/tiny.yaml (top-level
  keys replaced). A block that is no study config at all (a Snakemake profile excerpt)
  says so on the line before its fence, `<!-- not-a-study ... -->`, and only has to parse;
- every `ablate <subcommand>` shown in a shell block or an inline code span names a real
  subcommand, with long options that subcommand has (ablate.cli's argparse parser);
  every `make <target>` is a Makefile target; every `--configfile`, `--profile` and
  config/*.yaml path exists;
- every relative link, every repository path in a code span (`src/...`, `tests/...`) and
  every `ablate.<module>` named in a code span or a `from ablate... import` exists;
- the README stays a front door: at most README_MAX_LINES lines.
Nothing trains and nothing runs Snakemake: the whole file takes about a second.
"""

from __future__ import annotations

import argparse
import copy
import re

import pytest
import yaml
from doc_pages import (
    BLOCKS,
    CONFIG_PATH,
    IMPORT,
    LINK,
    MODULE,
    NOT_A_STUDY,
    PAGES,
    PLACEHOLDER,
    README,
    README_MAX_LINES,
    REPO_DIRS,
    ROOT,
    SHELL,
    SNIPPETS,
    YAML_BLOCKS,
    Block,
    Snippet,
    ablate_args,
    code_spans,
    commands,
    make_targets,
    paragraphs,
    rel,
    resolves,
    tiny_study,
)


@pytest.fixture(scope="module")
def cli() -> dict[str, set[str]]:
    """ablate's subcommands -> the option strings each accepts."""
    from ablate.cli import parser

    top = parser()
    (subparsers,) = (a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {option for action in sub._actions for option in action.option_strings}
        for name, sub in subparsers.choices.items()
    }


# ---------------------------------------------------------------- the README


def test_readme_is_a_front_door():
    n = len(README.read_text().splitlines())
    assert n <= README_MAX_LINES, (
        f"README.md has {n} lines (at most {README_MAX_LINES}): move detail to docs/"
    )


def test_the_readme_links_every_docs_page():
    text = README.read_text()
    missing = [rel(p) for p in PAGES[1:] if f"]({rel(p)})" not in text]
    assert not missing, f"README.md's Documentation list does not link {missing}"


def test_the_readme_names_the_test_command():
    # CI (.ci/run) runs `make test` as "the README's test command"; keep the two in sync
    assert "make test" in README.read_text(), "README.md no longer shows `make test`"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# ---------------------------------------------------------------- configs


def test_the_pages_show_some_configs():
    assert any(b.page == README for b in YAML_BLOCKS), "README.md shows no study"
    studies = [b for b in YAML_BLOCKS if isinstance(yaml.safe_load(b.text), dict)]
    assert len(studies) >= 3, [b.where for b in YAML_BLOCKS]


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=lambda b: f"{rel(b.page)}:{b.line}")
def test_yaml_block_parses_and_expands(block: Block, monkeypatch):
    from ablate.study.expand import ConfigError, expand_study

    try:
        config = yaml.safe_load(block.text)
    except yaml.YAMLError as error:
        pytest.fail(f"{block.where} is not valid YAML: {error}")
    if block.not_a_study:
        return
    assert isinstance(config, dict), (
        f"{block.where} is no mapping; mark a block that is no study config with "
        f"{NOT_A_STUDY} --> on the line before its fence"
    )
    if "study" not in config:  # a fragment: what it means inside a minimal study
        config = {**tiny_study(), **copy.deepcopy(config)}
    monkeypatch.chdir(ROOT)  # a relative data.path is read from where Snakemake runs
    try:
        runs = expand_study(config, root=ROOT)
    except ConfigError as error:
        pytest.fail(f"{block.where} does not validate:\n{error}")
    assert runs, f"{block.where} expands to no runs"


# ---------------------------------------------------------------- commands


def test_the_pages_show_some_commands():
    shown = [tokens for s in SNIPPETS for tokens in commands(s.text) if ablate_args(tokens)]
    assert len(shown) >= 5, [s.where for s in SNIPPETS]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.id)
def test_ablate_commands_exist(snippet: Snippet, cli):
    for tokens in commands(snippet.text):
        args = ablate_args(tokens)
        if not args:  # another program, or `ablate` alone in a sentence
            continue
        sub = args[0]
        if sub.startswith("-"):  # ablate --help
            continue
        assert sub in cli, f"{snippet.where}: `ablate {sub}` is no subcommand; {sorted(cli)}"
        options = {m for arg in args[1:] for m in re.findall(r"^\[?(--[a-z][\w-]*)", arg)}
        unknown = sorted(options - cli[sub])
        assert not unknown, (
            f"{snippet.where}: `ablate {sub}` has no option {unknown}; "
            f"it has {sorted(o for o in cli[sub] if o.startswith('--'))}"
        )


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.id)
def test_make_targets_exist(snippet: Snippet):
    targets = make_targets()
    for tokens in commands(snippet.text):
        if tokens[0] != "make":
            continue
        for target in tokens[1:]:
            if target.startswith("-") or "=" in target:
                continue
            assert target in targets, (
                f"{snippet.where}: `make {target}` is no target of the Makefile; {sorted(targets)}"
            )


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.id)
def test_config_files_and_profiles_exist(snippet: Snippet):
    for tokens in commands(snippet.text):
        for flag, value in zip(tokens, tokens[1:], strict=False):
            if flag in ("--configfile", "--profile", "--workflow-profile"):
                assert not PLACEHOLDER.search(value) and (ROOT / value).exists(), (
                    f"{snippet.where}: {flag} {value} does not exist"
                )


def test_config_paths_exist():
    """Every config/*.yaml a shell block shows, in a command or in a comment."""
    shown = [(b.where, p) for b in BLOCKS if b.lang in SHELL for p in CONFIG_PATH.findall(b.text)]
    shown += [(where, p) for where, span in code_spans() for p in CONFIG_PATH.findall(span)]
    assert shown
    missing = [f"{where}: {path}" for where, path in shown if not (ROOT / path).is_file()]
    assert not missing, "config files shown that do not exist:\n" + "\n".join(missing)


# ---------------------------------------------------------------- links, paths, modules


def test_relative_links_resolve():
    broken = []
    for page in PAGES:
        for start, text in paragraphs(page):
            for match in LINK.finditer(text):
                target = match[1]
                if re.match(r"^[a-z]+:", target):  # https:, mailto:
                    continue
                line = start + text.count("\n", 0, match.start())
                where = f"{rel(page)}:{line}: ({target})"
                if "#" in target:
                    broken.append(f"{where} has an anchor; link the page itself")
                    continue
                path = (page.parent / target).resolve()
                if not path.exists() or ROOT not in (path, *path.parents):
                    broken.append(f"{where} does not exist in the repository")
    assert not broken, "\n".join(broken)


def test_repository_paths_in_code_spans_exist():
    missing = []
    for where, span in code_spans():
        for token in span.split():
            token = token.rstrip(",;:")
            if not token.startswith(REPO_DIRS) or PLACEHOLDER.search(token):
                continue
            found = any(ROOT.glob(token)) if "*" in token else (ROOT / token).exists()
            if not found:
                missing.append(f"{where}: `{token}`")
    assert not missing, "paths named that do not exist:\n" + "\n".join(missing)


def test_modules_named_exist():
    missing = []
    for where, span in code_spans():
        if MODULE.match(span) and not resolves(span):
            missing.append(f"{where}: `{span}`")
    for block in BLOCKS:
        for module, names in IMPORT.findall(block.text):
            wanted = tuple(n.strip() for n in names.split(",") if n.strip())
            if not resolves(module, wanted):
                missing.append(f"{block.where}: from {module} import {names.strip()}")
    assert not missing, "modules or names that do not exist:\n" + "\n".join(missing)
