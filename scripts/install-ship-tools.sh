#!/usr/bin/env bash
# Static checkers for the shipping artefacts (Dockerfile, deploy/terraform, .github/workflows) that cannot
# share the project's venv: checkov pins its own versions of common libraries, so it gets a venv of its
# own under var/tools/checkov. Re-installs only when the pinned version changes.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOV_VERSION=3.3.30
venv=var/tools/checkov
stamp="$venv/.installed-$CHECKOV_VERSION"
[ -f "$stamp" ] && exit 0
rm -rf "$venv"
.venv/bin/uv venv --quiet --python .venv/bin/python "$venv"
.venv/bin/uv pip install --quiet --python "$venv/bin/python" "checkov==$CHECKOV_VERSION"
touch "$stamp"
