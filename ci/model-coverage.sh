#!/usr/bin/env bash
# The rules are complete: every branch of the model (model/*.cc) is taken by
# some conformance case. Builds conformance_test with coverage (g++-12,
# --coverage -O0, build/coverage; only that target and its dependencies),
# replays conformance/cases on the model alone, and measures branch coverage
# of model/ with gcovr (exception and unreachable branches excluded).
#
# Prints every branch no case takes (file:line, the source line, which
# directions were never taken) and fails when one is not listed in
# conformance/uncovered-branches.txt, the one reviewed list of branches a
# conformance case cannot reach, each with its reason. An entry names its
# branch by the source text of its line (not a line number), so edits
# elsewhere do not break it; an entry that matches no uncovered branch fails
# too (it is stale: the branch is now taken or the line is gone).
#
# For a reachable branch, write a conformance case for the rule it implements
# (docs/kernel-releases.md, conformance/cases/*.ops), not an entry.
# Usage: ci/model-coverage.sh   (about two minutes on two cores)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
build="$root/build/coverage"
allow="$root/conformance/uncovered-branches.txt"

ci/install-deps.sh
if ! command -v gcovr >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "model-coverage: gcovr is missing (sudo apt-get install gcovr)" >&2
    exit 1
  fi
  echo "model-coverage: installing gcovr"
  export DEBIAN_FRONTEND=noninteractive
  # Waits for another apt run's lock instead of failing.
  apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
  "${apt[@]}" install gcovr || { "${apt[@]}" update && "${apt[@]}" install gcovr; }
fi

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE= \
  -DCMAKE_C_COMPILER=gcc-12 -DCMAKE_CXX_COMPILER=g++-12 \
  -DCMAKE_C_FLAGS="--coverage -O0" -DCMAKE_CXX_FLAGS="--coverage -O0" \
  -DCMAKE_EXE_LINKER_FLAGS=--coverage -DCMAKE_SHARED_LINKER_FLAGS=--coverage \
  >/dev/null
cmake --build "$build" --target conformance_test

# Counters from an earlier run would add branches this run did not take.
find "$build" -name '*.gcda' -delete
echo "model-coverage: replaying conformance/cases on the model"
AMC_BACKENDS=model "$build/conformance/conformance_test" --gtest_brief=1 \
  >"$build/conformance.log" 2>&1 \
  || { tail -n 40 "$build/conformance.log"; echo "model-coverage: conformance_test failed" >&2; exit 1; }

gcovr_args=(--root "$root" --object-directory "$build" --gcov-executable gcov-12
  --filter "$root/model/" --exclude '.*_test\.cc' --exclude-directories "$build/CMakeFiles"
  --exclude-throw-branches --exclude-unreachable-branches)
gcovr "${gcovr_args[@]}" --branches --print-summary -o "$build/model-branches.txt" \
  | sed 's/^/model-coverage: /'
gcovr "${gcovr_args[@]}" --json "$build/model-coverage.json"

python3 - "$build/model-coverage.json" "$allow" "$root" <<'EOF'
import json, sys

report, allow_path, root = sys.argv[1:4]

# The reviewed list: "branch: <source text>" then "reason: <why>" lines;
# '#' lines and blank lines separate entries.
allowed, entry = [], None
for n, raw in enumerate(open(allow_path), 1):
    line = raw.strip()
    if not line or line.startswith('#'):
        continue
    if line.startswith('branch:'):
        entry = {'text': line[len('branch:'):].strip(), 'reason': '', 'line': n, 'used': False}
        allowed.append(entry)
    elif line.startswith('reason:') and entry is not None:
        entry['reason'] = line[len('reason:'):].strip()
    elif entry is not None and entry['reason']:
        entry['reason'] += ' ' + line
    else:
        sys.exit(f'{allow_path}:{n}: expected "branch:" or "reason:", got: {line}')
for e in allowed:
    if not e['text'] or not e['reason']:
        sys.exit(f"{allow_path}:{e['line']}: an entry needs both a branch and a reason")

data = json.load(open(report))
total = taken = 0
uncovered = []
for f in data['files']:
    path = f['file']
    source = open(path if path.startswith('/') else f'{root}/{path}').read().split('\n')
    for l in f['lines']:
        branches = l.get('branches', [])
        total += len(branches)
        taken += sum(1 for b in branches if b['count'] > 0)
        missed = [i for i, b in enumerate(branches) if b['count'] == 0]
        if missed:
            text = source[l['line_number'] - 1].strip()
            uncovered.append((path, l['line_number'], text, missed, len(branches)))

bad = []
print(f'model-coverage: {taken} of {total} branches of model/ taken by conformance/cases')
for path, line, text, missed, n in uncovered:
    match = [e for e in allowed if e['text'] == text]
    for e in match:
        e['used'] = True
    tag = 'listed' if match else 'NOT LISTED'
    print(f'  {path}:{line}: [{tag}] branches {missed} of {n} never taken: {text}')
    if not match:
        bad.append((path, line))
stale = [e for e in allowed if not e['used']]
for e in stale:
    print(f"model-coverage: {allow_path}:{e['line']}: stale entry, no uncovered branch "
          f"has this source text: {e['text']}")
if bad or stale:
    print(f'model-coverage: FAIL: {len(bad)} uncovered branch line(s) not in '
          f'{allow_path}, {len(stale)} stale entr(ies). Write a conformance case '
          'for the rule, or list the branch with the reason no case can reach it.')
    sys.exit(1)
print('model-coverage: every uncovered branch is listed with its reason')
EOF
