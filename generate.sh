#!/usr/bin/env bash
# Regenerate the Python client (swagger_client/) and its docs (Documentation/) from the
# OpenAPI contract. Never edit the generated trees by hand: change the spec and run this.
#
# Environment:
#   SPEC     contract to generate from   (default: openapi/openapi.yaml next to this script)
#   OUT_DIR  root that receives swagger_client/ and Documentation/ (default: this script's dir)
#   PYTHON   interpreter whose environment provides the tools (default: python3 on PATH)
set -euo pipefail

GENERATOR_VERSION="6.6.0"
PACKAGE_NAME="swagger_client"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SPEC="${SPEC:-$ROOT/openapi/openapi.yaml}"
OUT_DIR="${OUT_DIR:-$ROOT}"
PYTHON="${PYTHON:-python3}"

die() {
    echo "generate.sh: $*" >&2
    exit 1
}

# Print a tool's output without the Java stack frames that bury its message.
show_log() {
    grep -vE '^[[:space:]]+(at |\.\.\. [0-9]+ (common frames|more))' "$1" >&2 || true
}

[[ -f "$SPEC" ]] || die "spec not found: $SPEC"
[[ -d "$OUT_DIR" ]] || die "output root is not a directory: $OUT_DIR"
SPEC="$(cd "$(dirname "$SPEC")" && pwd)/$(basename "$SPEC")"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

command -v "$PYTHON" >/dev/null 2>&1 || die "no Python interpreter '$PYTHON' on PATH"

# The generator's console script lives beside the interpreter of the environment it was
# installed into; fall back to PATH for unusual layouts.
BIN_DIR="$("$PYTHON" -c 'import os, sys; print(os.path.dirname(sys.executable))')"
GENERATOR="$BIN_DIR/openapi-generator-cli"
if [[ ! -x "$GENERATOR" ]]; then
    GENERATOR="$(command -v openapi-generator-cli || true)"
fi
[[ -n "$GENERATOR" && -x "$GENERATOR" ]] ||
    die "openapi-generator-cli is not installed; run: pip install -e '.[dev]'"
"$PYTHON" -c 'import openapi_spec_validator' 2>/dev/null ||
    die "openapi-spec-validator is not installed; run: pip install -e '.[dev]'"

# A different generator version produces different code; refuse rather than drift.
found_version="$("$GENERATOR" version 2>&1 | tail -n 1 | tr -d '[:space:]')" || true
[[ "$found_version" == "$GENERATOR_VERSION" ]] ||
    die "openapi-generator-cli $GENERATOR_VERSION is required, found '$found_version'; run: pip install -e '.[dev]'"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# 1. The contract must pass both validators before anything is generated.
echo "generate.sh: validating $SPEC with openapi-spec-validator" >&2
if ! "$PYTHON" -m openapi_spec_validator "$SPEC" >"$WORK/validator.log" 2>&1; then
    show_log "$WORK/validator.log"
    die "openapi-spec-validator rejected $SPEC"
fi

echo "generate.sh: validating $SPEC with openapi-generator $GENERATOR_VERSION" >&2
status=0
"$GENERATOR" validate -i "$SPEC" >"$WORK/validate.log" 2>&1 || status=$?
# The console script exits 0 even on a spec it could not read, so the success line is
# required as well as the exit code (warnings count as failures: keep the contract clean).
if [[ $status -ne 0 ]] || ! grep -q "No validation issues detected" "$WORK/validate.log"; then
    show_log "$WORK/validate.log"
    die "openapi-generator validate rejected $SPEC (exit code $status)"
fi

# 2. Generate into a scratch directory.
echo "generate.sh: generating $PACKAGE_NAME" >&2
status=0
"$GENERATOR" generate \
    -i "$SPEC" \
    -g python-legacy \
    --library urllib3 \
    -o "$WORK/out" \
    --package-name "$PACKAGE_NAME" \
    --additional-properties "packageVersion=1.0.0,hideGenerationTimestamp=true" \
    --global-property "apiTests=false,modelTests=false" \
    >"$WORK/generate.log" 2>&1 || status=$?
if [[ $status -ne 0 ]] || grep -qE '^(\[main\] )?(ERROR|Exception)|Exception in thread' "$WORK/generate.log" ||
    [[ ! -f "$WORK/out/$PACKAGE_NAME/__init__.py" || ! -d "$WORK/out/docs" || ! -f "$WORK/out/README.md" ]]; then
    show_log "$WORK/generate.log"
    die "openapi-generator failed to generate the client from $SPEC (exit code $status)"
fi

# 3. Assemble the trees exactly as they are committed: the package, and the docs with the
#    README beside them so that their relative links keep working from Documentation/.
STAGE="$WORK/stage"
mkdir -p "$STAGE/Documentation"
cp -R "$WORK/out/$PACKAGE_NAME" "$STAGE/$PACKAGE_NAME"
rm -rf "$STAGE/$PACKAGE_NAME/test"
find "$STAGE/$PACKAGE_NAME" \( -name '__pycache__' -o -name '.openapi-generator*' \) -prune -exec rm -rf {} +
cp "$WORK/out/docs/"*.md "$STAGE/Documentation/"
# docs/X.md link the README as ../README.md; the README links docs as docs/X.md.
sed -i -e 's#(\.\./README\.md#(README.md#g' "$STAGE/Documentation/"*.md
# The README's install hint links a package registry; the words are enough.
sed -e 's#(docs/#(#g' -e 's#\[Setuptools\]([^)]*)#Setuptools#g' \
    "$WORK/out/README.md" >"$STAGE/Documentation/README.md"

# The output must not depend on when or where it was generated.
if grep -rlE '(Generated|Build) (date|on)|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}' "$STAGE" >"$WORK/stamped" 2>/dev/null; then
    cat "$WORK/stamped" >&2
    die "generated files carry a date or timestamp (from the generator or from an example in the spec); the output would not be reproducible"
fi
if grep -rlF "$WORK" "$STAGE" >"$WORK/pathed" 2>/dev/null; then
    cat "$WORK/pathed" >&2
    die "generated files mention the scratch directory; the output would not be reproducible"
fi

# 4. Replace the committed trees in one step each.
for tree in "$PACKAGE_NAME" Documentation; do
    rm -rf "${OUT_DIR:?}/$tree"
    mv "$STAGE/$tree" "$OUT_DIR/$tree"
done
echo "generate.sh: wrote $OUT_DIR/$PACKAGE_NAME and $OUT_DIR/Documentation" >&2
