"""The README documents the code: every setting, secret override and CLI command."""

import re
from pathlib import Path

from intraday_jules.secrets import KNOWN_SECRETS, env_var_for
from intraday_jules.settings import SETTING_SPECS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_documents_every_setting_env_var():
    missing = [spec.env for spec in SETTING_SPECS if f"`{spec.env}`" not in README]
    assert not missing, f"README is missing settings: {missing}"


def test_readme_documents_every_secret_override():
    missing = [env_var_for(name) for name in KNOWN_SECRETS if env_var_for(name) not in README]
    assert not missing, f"README is missing secret env vars: {missing}"


def test_every_env_var_the_code_reads_is_documented():
    root = Path(__file__).resolve().parents[1] / "intraday_jules"
    used = set()
    for path in root.rglob("*.py"):
        used |= set(re.findall(r"\"(INTRADAY_JULES_[A-Z0-9_]+)\"", path.read_text()))
    undocumented = sorted(v for v in used if v not in README)
    assert not undocumented, f"env vars read by the code but not in README: {undocumented}"


def test_readme_shows_the_two_commands():
    assert "make demo" in README and "make test" in README


def test_readme_documents_every_cli_command():
    from intraday_jules.cli import app

    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    missing = [n for n in names if f"intraday-jules {n}" not in README]
    assert not missing, f"README does not show: {missing}"


DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_no_doc_points_outside_the_repository():
    outside = re.compile(r"\.\./shared|/work/|ARCHITECTURE\.md|STYLE\.md|MEASURED\.md")
    found = [f"{p.name}:{n}" for p in DOCS.glob("*.md")
             for n, line in enumerate(p.read_text().splitlines(), 1) if outside.search(line)]
    assert not found, f"docs point outside the repository: {found}"


def test_every_relative_link_in_the_docs_resolves():
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    broken = [f"{p.name}: {target}" for p in [*DOCS.glob("*.md"), DOCS.parent / "README.md"]
              for target in link.findall(p.read_text())
              if "://" not in target and not (p.parent / target).exists()]
    assert not broken, f"broken links: {broken}"


def test_readme_links_the_architecture_page():
    assert "(docs/architecture.md)" in README
