"""The documents stand alone and render: every reStructuredText file
parses without a warning (a malformed table renders as an error block),
and every repository path they cite exists."""

import glob
import io
import os
import re

from docutils import core as docutils_core
import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DOCS = sorted(glob.glob(os.path.join(ROOT, "docs", "*.rst"))) + \
    [os.path.join(ROOT, "README.rst")]
TOP_LEVEL = ("heatflow/", "flows/", "persistence/", "tests/", "bench/",
             "examples/", "docs/", ".ci/")
#: A cited path: a top-level folder, then path characters (a trailing
#: ``:function`` or ``::`` is not part of it).
CITED = re.compile(r"(?<![\w./-])((?:%s)[\w./-]*)" % "|".join(
    re.escape(t) for t in TOP_LEVEL))


def _name(path):
    return os.path.relpath(path, ROOT)


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_renders_without_warnings(path):
    with open(path) as f:
        text = f.read()
    warnings = io.StringIO()
    docutils_core.publish_doctree(text, source_path=path, settings_overrides={
        "warning_stream": warnings, "report_level": 2,
        "file_insertion_enabled": False, "raw_enabled": False})
    assert warnings.getvalue() == ""


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_cited_paths_exist(path):
    with open(path) as f:
        text = f.read()
    missing = set()
    for match in CITED.finditer(text):
        cited = match.group(1).rstrip(".,:;)")
        if text[match.end():match.end() + 1] in ("*", "<"):
            continue            # a pattern: results/soak-<stamp>.json
        if not os.path.exists(os.path.join(ROOT, cited)):
            missing.add(cited)
    assert not missing, "%s cites paths that do not exist: %s" % (
        _name(path), ", ".join(sorted(missing)))
    # Nor documents outside the repository (the design brief, its
    # research notes): a reader of the docs has only the repository.
    outside = re.findall(r"DESIGN(?:\.md| section)|shared/", text)
    assert not outside, "%s cites documents outside the repository: %s" % (
        _name(path), ", ".join(sorted(set(outside))))
