#!/usr/bin/env bash
# Installs cfn-lint into the project's virtualenv, lints template.yaml (a finding fails), and
# prints the line that points the template test at the virtualenv's Python, whose `cfnlint`
# package parses the template (short-form tags included) for the test's assertions:
#
#     eval "$(infra/cfn-lint.sh)"
#
# Progress and findings go to stderr so `eval` only sees the export line.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
# Pinned to one major version: rule numbers and the decoder's API change between majors.
REQUIREMENT='cfn-lint>=1.20,<2'

if [ ! -x "$VENV/bin/python" ]; then
    echo "cfn-lint.sh: creating the virtualenv $VENV" >&2
    python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c 'import cfnlint' 2>/dev/null; then
    echo "cfn-lint.sh: installing $REQUIREMENT into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet "$REQUIREMENT" >&2
fi
echo "cfn-lint.sh: linting template.yaml with $("$VENV/bin/cfn-lint" --version)" >&2
"$VENV/bin/cfn-lint" "$REPO/template.yaml" >&2
echo "export CALSYNC_TEST_CFN_PYTHON=$VENV/bin/python"
