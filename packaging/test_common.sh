# packaging/test_common.sh: helpers the install tests source (deb_test.sh,
# bundle_test.sh, ci_recipe_test.sh). Each test makes one scratch folder
# ($scratch) that its EXIT trap removes, runs the installed amc from an empty
# folder of its own with HOME elsewhere and AMC_DATA_DIR unset, so nothing
# is found through the source or build tree by accident.

fail() { echo "FAIL: $*"; exit 1; }

new_scratch() {
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/amc-install-test.XXXXXX")"
  trap 'rm -rf "$scratch"' EXIT
  mkdir -p "$scratch/cwd" "$scratch/home"
}

# Runs the command from $scratch/cwd with HOME=$scratch/home and no
# AMC_DATA_DIR / AMC_BACKENDS / AMC_PLUGIN_HOST (an installed static amc
# finds its plug-in host by itself); output to $scratch/last.log (also printed);
# sets $rc.
run_away() {
  echo "+ $*"
  rc=0
  (cd "$scratch/cwd" && env -u AMC_DATA_DIR -u AMC_BACKENDS -u AMC_PLUGIN_HOST HOME="$scratch/home" "$@") \
    >"$scratch/last.log" 2>&1 || rc=$?
  cat "$scratch/last.log"
}

# check_version AMC VERSION: `AMC --version` names VERSION, a git revision
# and the plug-in ABI.
check_version() {
  run_away "$1" --version
  [ "$rc" -eq 0 ] || fail "$1 --version exited $rc"
  grep -qx "amc $2" "$scratch/last.log" || fail "$1 --version does not say 'amc $2'"
  grep -q '^git revision: .' "$scratch/last.log" || fail "$1 --version has no git revision"
  grep -q '^plug-in ABI version: [0-9]' "$scratch/last.log" || fail "$1 --version has no plug-in ABI version"
}

# check_replay_installed AMC PREFIX: `AMC replay` with no PATH replays every
# case under PREFIX/share/amc/conformance/cases (and nothing else: every
# file it names lies there), on the model and the impl, and all pass.
check_replay_installed() {
  local amc=$1 prefix=$2
  local cases="$prefix/share/amc/conformance/cases"
  local n
  n=$(find "$cases" -name '*.ops' | wc -l)
  [ "$n" -gt 0 ] || fail "no cases installed under $cases"
  run_away "$amc" replay --backends model,impl --verbose
  [ "$rc" -eq 0 ] || fail "$amc replay exited $rc"
  grep -q "^replayed $n files: $n passed, 0 failed, 0 unreadable, 0 skipped\$" "$scratch/last.log" ||
    fail "$amc replay did not pass the $n installed cases"
  local named others
  named=$(grep -c "^PASS " "$scratch/last.log" || true)
  [ "$named" -eq "$n" ] || fail "$named PASS lines for $n cases"
  others=$(grep "^PASS " "$scratch/last.log" | grep -vc "^PASS $cases/" || true)
  [ "$others" -eq 0 ] || fail "$others replayed files lie outside $cases"
}

# check_no_fallback AMC: a copy of AMC alone in an empty prefix finds no
# cases (exit 2, naming BIN/../share/amc), rather than the build's sources.
check_no_fallback() {
  mkdir -p "$scratch/bare/bin"
  cp "$1" "$scratch/bare/bin/amc"
  run_away "$scratch/bare/bin/amc" replay --backends model
  [ "$rc" -eq 2 ] || fail "a lone amc's replay exited $rc, expected 2 (no data)"
  grep -qF "no conformance cases at $scratch/bare/bin/../share/amc" "$scratch/last.log" ||
    grep -qF "no conformance cases at $scratch/bare/share/amc" "$scratch/last.log" ||
    fail "a lone amc does not name its missing share/amc"
  rm -rf "$scratch/bare"
}

# score AMC PLUGIN OUT_PREFIX: runs `AMC conform --backends model,plugin:PLUGIN`
# with Markdown and JUnit reports at OUT_PREFIX.md / .xml; prints the score
# line ("N of M rules pass, K skipped, F fail") and checks it has 0 fail and
# N > 0, and that both reports exist and parse.
score() {
  local amc=$1 plugin=$2 out=$3
  run_away "$amc" conform --backends "model,plugin:$plugin" --markdown "$out.md" --junit "$out.xml" >&2
  [ "$rc" -eq 0 ] || fail "$amc conform on $plugin exited $rc"
  local line
  line=$(sed -n 's/^.*: \([0-9]* of [0-9]* rules pass, [0-9]* skipped, [0-9]* fail\)$/\1/p' "$scratch/last.log")
  [ -n "$line" ] || fail "no score line from $amc conform"
  case "$line" in
    0\ of*) fail "no rule passes: $line" ;;
    *", 0 fail") ;;
    *) fail "rules fail: $line" ;;
  esac
  check_reports "$out.xml" "$out.md"
  echo "$line"
}

# check_reports JUNIT MARKDOWN: the JUnit file is well-formed XML with test
# cases (xmllint when installed, and python3's parser), the Markdown has
# the score.
check_reports() {
  [ -s "$1" ] || fail "$1 is missing or empty"
  [ -s "$2" ] || fail "$2 is missing or empty"
  if command -v xmllint >/dev/null; then
    xmllint --noout "$1" || fail "$1 is not well-formed XML"
  fi
  python3 - "$1" <<'PY' || fail "$1 is not JUnit with test cases"
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().findall(".//testcase")
assert cases, "no testcase"
PY
  grep -q '^- \*\*score: [0-9]* of [0-9]* rules pass, [0-9]* skipped, [0-9]* fail\*\*$' "$2" ||
    fail "$2 has no score line"
}

# build_minimal_plugin PKG_CONFIG_DIR SRC OUT: the example C plug-in
# (plugin/testing/minimal_plugin.c) compiled with only what pkg-config
# amc-plugin gives for the installed header.
build_minimal_plugin() {
  local cflags
  cflags=$(PKG_CONFIG_PATH="$1" pkg-config --cflags amc-plugin) || fail "pkg-config --cflags amc-plugin failed"
  case "$cflags" in *-I*) ;; *) fail "pkg-config gives no include folder: '$cflags'" ;; esac
  mkdir -p "$scratch/plugin-src"
  cp "$2/plugin/testing/minimal_plugin.c" "$scratch/plugin-src/"
  echo "+ cc -shared -fPIC $cflags minimal_plugin.c"
  # shellcheck disable=SC2086
  (cd "$scratch/plugin-src" && cc -std=c11 -O1 -shared -fPIC -fvisibility=hidden $cflags \
    -o "$3" minimal_plugin.c) || fail "the C plug-in does not build against the installed header"
}
