#!/usr/bin/env python3
"""Kernel matrix: runs amc's kernel oracle inside other Linux releases.

Boots each requested Debian cloud kernel (only its image, no modules) under
QEMU with an initramfs holding busybox, a statically linked amc and the
regression corpus. Inside, amc checks the model against that kernel
(`amc run --backends model,kernel` with a fixed seed and budget, then
`amc replay` of the corpus and of a generated spin-lock sweep). Results come back over the serial console
between explicit markers; QEMU's own exit status means nothing (it is 0
after a guest panic too), so a guest that panics, times out or never prints
its end marker is a failure with the log attached.

Kernel packages are resolved at run time (Debian replaces point releases):
  6.1  -> what linux-image-cloud-amd64 depends on, "-unsigned" flavour
  6.12 -> the highest linux-image-6.12.*-cloud-amd64-unsigned
The exact release booted goes into every report.
"""

import argparse
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET

MARK = "AMC-MATRIX"
# Shell helper in every guest (and host) test: prints a file between markers
# so the host can take it back from the serial console.
DUMP_FN = ('dump() { echo "' + MARK + '-FILE $(basename "$1")"; cat "$1"; '
           'echo "' + MARK + '-FILE-END"; }')


def log(msg):
    print(f"matrix: {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def version_key(name):
    return [int(x) for x in re.findall(r"\d+", name)]


def resolve_package(series):
    """Debian package name of the newest cloud kernel image of a series."""
    if series == "6.1":
        out = run(["apt-cache", "depends", "linux-image-cloud-amd64"]).stdout
        m = re.search(r"Depends:\s*(linux-image-6\.1\.\S+-cloud-amd64)\b", out)
        if not m:
            raise RuntimeError("linux-image-cloud-amd64 does not depend on a 6.1 image:\n" + out)
        return m.group(1) + "-unsigned"
    names = run(["apt-cache", "pkgnames", "linux-image-"]).stdout.split()
    pattern = re.compile(r"^linux-image-" + re.escape(series) + r"\.[\w.+~-]+-cloud-amd64-unsigned$")
    found = sorted((n for n in names if pattern.match(n)), key=version_key)
    if not found:
        raise RuntimeError(f"no linux-image-{series}.*-cloud-amd64-unsigned package")
    return found[-1]


def fetch_kernel(package, cache):
    """Downloads the package (once) and extracts its vmlinuz; returns (path, release)."""
    os.makedirs(cache, exist_ok=True)
    debs = [f for f in os.listdir(cache) if f.startswith(package + "_") and f.endswith(".deb")]
    if not debs:
        log(f"downloading {package}")
        run(["apt-get", "download", package], cwd=cache)
        debs = [f for f in os.listdir(cache) if f.startswith(package + "_") and f.endswith(".deb")]
    deb = os.path.join(cache, sorted(debs)[-1])
    release = package[len("linux-image-"):-len("-unsigned")]
    vmlinuz = os.path.join(cache, f"vmlinuz-{release}")
    if not os.path.exists(vmlinuz):
        tar_bytes = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], check=True,
                                   capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
            member = tar.getmember(f"./boot/vmlinuz-{release}")
            with tar.extractfile(member) as src, open(vmlinuz, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return vmlinuz, release


def cpio_newc(entries):
    """A gzip'd newc cpio archive from (path, mode, data-or-None) entries."""
    out = io.BytesIO()
    ino = 1
    def put(name, mode, data):
        nonlocal ino
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
        ino += 1
        out.write(hdr.encode() + name_b)
        out.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
        out.write(data)
        out.write(b"\0" * ((4 - len(data) % 4) % 4))
    for name, mode, data in entries:
        put(name, mode, data if data is not None else b"")
    put("TRAILER!!!", 0, b"")
    return gzip.compress(out.getvalue(), compresslevel=1)


def guest_init(tests, broken):
    lines = [
        "#!/bin/busybox sh",
        "/bin/busybox --install -s /bin",
        "mount -t proc proc /proc",
        "mount -t sysfs sys /sys",
        "mount -t tmpfs tmp /tmp",
        DUMP_FN,
        f'echo "{MARK}-BEGIN release=$(uname -r) cpus=$(cat /sys/devices/system/cpu/possible)"',
        f'echo "{MARK}-VERSION $(uname -v)"',
    ]
    if broken == "panic":
        lines.append("exit 1  # deliberately broken guest: init dies, the kernel panics")
    for name, command in tests:
        lines += [
            f'echo "{MARK}-TEST-BEGIN {name}"',
            f"{command}",
            f'echo "{MARK}-TEST-END {name} rc=$?"',
        ]
    lines += [f'echo "{MARK}-END"', "poweroff -f"]
    return "\n".join(lines) + "\n"


# Spin-lock sweep: inputs without expectations that every release replays on
# the model and its kernel (a plain differential check). Locks at every offset
# of several value sizes, and the creation flags at a few offsets, each
# followed by the ops whose answers depend on the lock and the release
# (core/kernel_profile.h): BPF_F_LOCK, programs over and beside the lock,
# mappings, freeze. The random campaigns reach few of these corners.
SWEEP_DIR = "spin-lock-sweep"
SWEEP_FLAGS = ["0", "BPF_F_RDONLY_PROG", "BPF_F_WRONLY_PROG", "BPF_F_MMAPABLE",
               "BPF_F_RDONLY", "BPF_F_WRONLY", "BPF_F_NO_PREALLOC",
               "BPF_F_RDONLY_PROG|BPF_F_WRONLY_PROG", "BPF_F_INNER_MAP",
               "BPF_F_MMAPABLE|BPF_F_RDONLY_PROG", "BPF_F_MMAPABLE|BPF_F_WRONLY_PROG"]
SWEEP_OPS = [
    "update key=0 value=ab*96 flags=BPF_F_LOCK", "lookup key=0 flags=BPF_F_LOCK",
    "update key=1 value=cd*96 flags=BPF_ANY", "lookup key=1 flags=BPF_ANY",
    "lookup_batch in=null count=2 elem_flags=BPF_F_LOCK flags=0",
    "prog_lookup cpu=0 key=0", "prog_update cpu=1 key=1 value=11*96 flags=BPF_F_LOCK",
    "prog_atomic_add cpu=0 key=0 offset=0 delta=3",
    "prog_atomic_add cpu=1 key=1 offset=8 delta=5",
    "mmap slot=0 offset=0 length=4096 prot=PROT_READ shared=1", "munmap slot=0",
    "mmap slot=1 offset=0 length=4096 prot=PROT_READ|PROT_WRITE shared=1", "munmap slot=1",
    "freeze", "freeze", "update key=0 value=ef*96 flags=BPF_F_LOCK",
    "lookup key=0 flags=BPF_ANY"]


def spin_lock_sweep():
    """{file name: .ops text} of the sweep (282 cases)."""
    cases = {}
    def add(name, kind, value_size, flags, offset):
        cases[f"{name}.ops"] = "\n".join(
            ["# from ci/kernel_matrix.py's spin-lock sweep",
             f"map type={kind} key_size=4 value_size={value_size} max_entries=2 "
             f"flags={flags} numa_node=0 spin_lock={offset}"] + SWEEP_OPS) + "\n"
    for kind in ("ARRAY", "PERCPU_ARRAY"):
        for value_size in (3, 4, 5, 8, 12, 16, 24):
            for offset in range(value_size + 2):
                add(f"offset_{kind}_{value_size}_{offset}", kind, value_size, "0", offset)
        for value_size, offset in ((16, 0), (16, 6), (16, 12), (16, 14), (8, 4)):
            for i, flags in enumerate(SWEEP_FLAGS):
                add(f"flags_{kind}_{value_size}_{offset}_{i}", kind, value_size, flags, offset)
    return cases


def build_initramfs(path, amc, corpus, tests, broken):
    entries = [("bin", 0o40755, None), ("proc", 0o40755, None), ("sys", 0o40755, None),
               ("dev", 0o40755, None), ("tmp", 0o41777, None), ("corpus", 0o40755, None)]
    with open(shutil.which("busybox") or "/bin/busybox", "rb") as f:
        entries.append(("bin/busybox", 0o100755, f.read()))
    with open(amc, "rb") as f:
        entries.append(("bin/amc", 0o100755, f.read()))
    if corpus and os.path.isdir(corpus):
        for root, dirs, files in os.walk(corpus):
            dirs.sort()
            rel = os.path.relpath(root, corpus)
            if rel != ".":
                entries.append((f"corpus/{rel}", 0o40755, None))
            for name in sorted(files):
                with open(os.path.join(root, name), "rb") as f:
                    target = name if rel == "." else f"{rel}/{name}"
                    entries.append((f"corpus/{target}", 0o100644, f.read()))
    entries.append((SWEEP_DIR, 0o40755, None))
    for name, text in sorted(spin_lock_sweep().items()):
        entries.append((f"{SWEEP_DIR}/{name}", 0o100644, text.encode()))
    if broken != "noinit":  # without /init the kernel panics before any test
        entries.append(("init", 0o100755, guest_init(tests, broken).encode()))
    with open(path, "wb") as f:
        f.write(cpio_newc(entries))


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True
    except OSError:
        return False


def boot(vmlinuz, initrd, timeout, accel):
    cmd = ["qemu-system-x86_64", "-accel", accel, "-m", "1024", "-smp", "2",
           "-nographic", "-no-reboot", "-kernel", vmlinuz, "-initrd", initrd,
           "-append", "console=ttyS0 panic=-1 quiet"]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
        output, timed_out = proc.stdout, False
    except subprocess.TimeoutExpired as e:
        output, timed_out = e.stdout or b"", True
    text = output.decode("utf-8", "replace").replace("\r", "")
    return text, timed_out, time.monotonic() - start


def parse_guest(text, timed_out):
    """The verdict from the guest's own output."""
    result = {"release": None, "version": None, "files": {}, "tests": [], "ended": False, "panic": None,
              "timed_out": timed_out}
    current = None
    file_name, file_lines = None, []
    for line in text.splitlines():
        line = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc", "", line)
        m = re.match(MARK + r"-FILE (\S+)$", line)
        if m:
            file_name, file_lines = m.group(1), []
            continue
        if line == MARK + "-FILE-END" and file_name:
            result["files"][file_name] = "\n".join(file_lines) + "\n"
            file_name = None
            continue
        if file_name is not None:
            file_lines.append(line)
            continue
        m = re.search(MARK + r"-BEGIN release=(\S+)", line)
        if m:
            result["release"] = m.group(1)
        m = re.search(MARK + r"-VERSION (.*)", line)
        if m:
            result["version"] = m.group(1).strip()
        m = re.search(MARK + r"-TEST-BEGIN (\S+)", line)
        if m:
            current = {"name": m.group(1), "rc": None, "output": []}
            result["tests"].append(current)
            continue
        m = re.search(MARK + r"-TEST-END (\S+) rc=(\d+)", line)
        if m and current and current["name"] == m.group(1):
            current["rc"] = int(m.group(2))
            current = None
            continue
        if re.search(MARK + r"-END\b", line):
            result["ended"] = True
        if "Kernel panic" in line and not result["panic"]:
            result["panic"] = line.strip()
        if current is not None:
            current["output"].append(line)
    return result


def verdict(parsed):
    if parsed["panic"]:
        return "FAIL", "guest kernel panic: " + parsed["panic"]
    if parsed["timed_out"]:
        return "FAIL", "guest did not finish within the time bound"
    if not parsed["release"]:
        return "FAIL", "guest never started the test script"
    if not parsed["ended"]:
        return "FAIL", "guest never printed its end marker"
    bad = [t["name"] for t in parsed["tests"] if t["rc"] != 0]
    if bad:
        return "FAIL", "failed: " + ", ".join(bad)
    return "PASS", f"{len(parsed['tests'])} tests passed"


def run_host(tests):
    """The same tests on the host kernel, as the reference column."""
    parsed = {"release": os.uname().release, "files": {}, "tests": [], "ended": True,
              "panic": None, "timed_out": False}
    for name, command in tests:
        proc = subprocess.run(DUMP_FN + "\n" + command, shell=True, capture_output=True,
                              text=True, executable="/bin/bash")
        parsed["tests"].append({"name": name, "rc": proc.returncode,
                                "output": (proc.stdout + proc.stderr).splitlines()})
        for fname, body in parse_guest(proc.stdout, False)["files"].items():
            parsed["files"][fname] = body
    return parsed


def divergences_by_kind(parsed):
    """Op kind -> count, from the guest's amc run JSON report."""
    body = parsed.get("files", {}).get("run.json")
    if not body:
        return None
    try:
        report = json.loads(body)
    except json.JSONDecodeError:
        return None
    counts = {}
    for d in report.get("divergences", []):
        m = re.search(r"\((\w+)\)", d.get("summary", ""))
        kind = m.group(1) if m else "final state/creation"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def write_reports(out_dir, rows):
    suites = ET.Element("testsuites", name="amc kernel matrix")
    for row in rows:
        parsed = row["parsed"]
        suite = ET.SubElement(suites, "testsuite", name=f"kernel {row['release']}",
                              tests=str(max(1, len(parsed["tests"]))))
        if row["verdict"] != "PASS" and not any(t["rc"] for t in parsed["tests"]):
            case = ET.SubElement(suite, "testcase", name="boot", classname=row["release"])
            fail = ET.SubElement(case, "failure", message=row["reason"])
            fail.text = row["log_tail"]
        for t in parsed["tests"]:
            case = ET.SubElement(suite, "testcase", name=t["name"], classname=row["release"])
            if t["rc"] != 0:
                fail = ET.SubElement(case, "failure", message=f"rc={t['rc']}")
                fail.text = "\n".join(t["output"][-200:])
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(t["output"][-400:])
    ET.ElementTree(suites).write(os.path.join(out_dir, "matrix-junit.xml"),
                                 encoding="utf-8", xml_declaration=True)
    summary = [{"kernel": r["label"], "release": r["release"],
                "version": r["parsed"].get("version"), "verdict": r["verdict"],
                "reason": r["reason"], "seconds": round(r["seconds"], 1),
                "divergences_by_kind": divergences_by_kind(r["parsed"]),
                "tests": {t["name"]: t["rc"] for t in r["parsed"]["tests"]}} for r in rows]
    with open(os.path.join(out_dir, "matrix.json"), "w") as f:
        json.dump(summary, f, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--amc", required=True, help="statically linked amc binary")
    ap.add_argument("--corpus", default="corpus", help="regression corpus to replay")
    ap.add_argument("--out", default="build/matrix", help="reports and logs go here")
    ap.add_argument("--cache", default=None, help="kernel package cache (default OUT/cache)")
    ap.add_argument("--kernels", default="6.1,6.12", help="kernel series to boot")
    ap.add_argument("--host", action="store_true", help="also run on the host kernel")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sequences", type=int, default=300)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per guest")
    # TCG by default: /dev/kvm may exist here without working (nested
    # virtualisation hangs), and a boot under TCG takes about 3 s.
    ap.add_argument("--accel", default="tcg", help="tcg, kvm, or auto (kvm when /dev/kvm opens)")
    ap.add_argument("--broken", choices=["panic", "noinit"],
                    help="deliberately break each guest (self-test): panic = its init dies; "
                         "noinit = no /init, the kernel panics before any test (retried once, "
                         "then a failure)")
    ap.add_argument("--update-corpus", metavar="DIR",
                    help="copy each guest's recorded cases into DIR/<series>/ (e.g. corpus/releases)")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    cache = args.cache or os.path.join(args.out, "cache")
    accel = args.accel if args.accel != "auto" else ("kvm" if kvm_usable() else "tcg")
    amc_in_guest = "/bin/amc"
    def tests_for(amc, corpus, tmp, sweep, guest):
        tests = [
            ("info", f"{amc} info"),
            ("run", f"{amc} run --backends model,kernel --seed {args.seed} "
                    f"--sequences {args.sequences} --jobs 1 --out {tmp}/run-out "
                    f"--json {tmp}/run.json; rc=$?; dump {tmp}/run.json; (exit $rc)"),
            ("replay", f"{amc} replay --backends model,kernel {corpus}"),
            ("spin-lock-sweep", f"{amc} replay --backends model,kernel {sweep}"),
        ]
        if guest:
            # Recorded truth of this release for every regression input.
            inputs = sorted(f for f in os.listdir(os.path.join(args.corpus, "regressions"))
                            if f.endswith(".ops"))
            paths = " ".join(f"{corpus}/regressions/{f}" for f in inputs)
            tests.append(("record", f"{amc} record {paths} --out {tmp}/rec; "
                                    f"rc=$?; for f in {tmp}/rec/*.ops; do dump $f; done; (exit $rc)"))
        return tests
    for tool in ("qemu-system-x86_64", "busybox", "apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            log(f"SKIPPED: {tool} is not installed (ci/install-deps.sh installs it)")
            return 3

    rows = []
    if args.host:
        start = time.monotonic()
        host_tmp = os.path.abspath(os.path.join(args.out, "host"))
        os.makedirs(host_tmp, exist_ok=True)
        host_sweep = os.path.join(host_tmp, SWEEP_DIR)
        shutil.rmtree(host_sweep, ignore_errors=True)
        os.makedirs(host_sweep)
        for name, text in spin_lock_sweep().items():
            with open(os.path.join(host_sweep, name), "w") as f:
                f.write(text)
        parsed = run_host(tests_for(os.path.abspath(args.amc), os.path.abspath(args.corpus),
                                    host_tmp, host_sweep, guest=False))
        v, reason = verdict(parsed)
        rows.append({"label": "host", "release": parsed["release"], "parsed": parsed,
                     "verdict": v, "reason": reason, "seconds": time.monotonic() - start,
                     "log_tail": ""})
    for series in [s for s in args.kernels.split(",") if s]:
        try:
            package = resolve_package(series)
            vmlinuz, release = fetch_kernel(package, cache)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            detail = getattr(e, "stderr", "") or str(e)
            log(f"SKIPPED {series}: the kernel package cannot be had: {detail.strip()}")
            rows.append({"label": series, "release": series, "verdict": "SKIPPED",
                         "reason": f"kernel package unavailable: {detail.strip()}",
                         "seconds": 0, "log_tail": "",
                         "parsed": {"tests": [], "release": None}})
            continue
        initrd = os.path.join(args.out, f"initramfs-{release}.cpio.gz")
        build_initramfs(initrd, args.amc, args.corpus,
                        tests_for(amc_in_guest, "/corpus", "/tmp", f"/{SWEEP_DIR}", guest=True), args.broken)
        log(f"booting {release} ({accel}, bound {args.timeout}s)")
        text, timed_out, seconds = boot(vmlinuz, initrd, args.timeout, accel)
        log_path = os.path.join(args.out, f"guest-{release}.log")
        with open(log_path, "w") as f:
            f.write(text)
        parsed = parse_guest(text, timed_out)
        v, reason = verdict(parsed)
        retry_note = ""
        if v != "PASS" and not parsed["release"]:
            # The guest failed before its init printed anything: a boot
            # failure of the emulated machine (seen once: an int3 oops in
            # sched_clock_cpu under TCG), not a result of amc. Boot once more;
            # the first log is kept, and the report says so. A guest whose
            # init started (the panic self-test's) is never retried.
            first_log = os.path.join(args.out, f"guest-{release}.boot1.log")
            os.replace(log_path, first_log)
            log(f"{release}: boot failed before init ({reason}); booting once more "
                f"(first log: {first_log})")
            retry_note = f" (second boot; the first failed before init: {reason}; log {first_log})"
            text, timed_out, seconds2 = boot(vmlinuz, initrd, args.timeout, accel)
            seconds += seconds2
            with open(log_path, "w") as f:
                f.write(text)
            parsed = parse_guest(text, timed_out)
            v, reason = verdict(parsed)
        reason += retry_note
        if parsed["release"] and parsed["release"] != release:
            v, reason = "FAIL", f"booted {parsed['release']}, expected {release}"
        recorded = {n: b for n, b in parsed["files"].items() if n.endswith(".ops")}
        if recorded:
            rec_dir = os.path.join(args.out, "recorded", series)
            os.makedirs(rec_dir, exist_ok=True)
            note = (f"# Re-recorded on Linux {release} by ci/kernel-matrix.sh; where the comments\n"
                    "# below say otherwise, they describe the release the input was first\n"
                    "# settled on, and the expectations here are this release's\n"
                    "# (core/kernel_profile.h lists the differences).\n")
            for name, body in recorded.items():
                with open(os.path.join(rec_dir, name), "w") as f:
                    f.write(note + body)
            if args.update_corpus:
                dest = os.path.join(args.update_corpus, series)
                if os.path.isdir(dest):
                    shutil.rmtree(dest)
                shutil.copytree(rec_dir, dest)
                log(f"recorded {len(recorded)} cases on {release} into {dest}")
        rows.append({"label": series, "release": parsed["release"] or release,
                     "parsed": parsed, "verdict": v, "reason": reason, "seconds": seconds,
                     "log_tail": "\n".join(text.splitlines()[-60:])})
        if v != "PASS":
            sys.stdout.write(f"--- log of {release} (last 60 lines, full: {log_path}) ---\n")
            sys.stdout.write("\n".join(text.splitlines()[-60:]) + "\n")
    write_reports(args.out, rows)

    print("\nkernel matrix")
    print(f"{'kernel':<8} {'release':<32} {'verdict':<8} {'time':>7}  {'divergences':<20} detail")
    for r in rows:
        kinds = divergences_by_kind(r["parsed"])
        kinds_text = ("none" if kinds == {} else "?" if kinds is None
                      else ",".join(f"{k}:{v}" for k, v in sorted(kinds.items())))
        print(f"{r['label']:<8} {r['release']:<32} {r['verdict']:<8} {r['seconds']:>6.1f}s  "
              f"{kinds_text:<20} {r['reason']}")
    print(f"reports: {args.out}/matrix-junit.xml {args.out}/matrix.json")
    if any(r["verdict"] == "FAIL" for r in rows):
        return 1
    if any(r["verdict"] == "SKIPPED" for r in rows):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
