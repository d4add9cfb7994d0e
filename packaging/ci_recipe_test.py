#!/usr/bin/env python3
"""packaging/ci_recipe_test.py SRC BUILD: runs the CI recipe of
docs/ci-recipe.md against a locally built release bundle.

The GitHub Actions workflow and the GitLab CI job are read from the page's
fenced blocks tagged `ci-recipe=github` and `ci-recipe=gitlab` (exactly one
each; they must parse as YAML). In a fresh working folder per recipe (the
runtime's checkout: the example C plug-in as amc/plugin.c), with the job's
environment, AMC_BUNDLE_URL pointing at the bundle (file://), HOME elsewhere
and AMC_DATA_DIR unset:
  - GitHub: every step's `run:` runs in order under `bash -eo pipefail`
    (as the runner does); `uses: actions/checkout` is the prepared folder;
    every path the upload-artifact step names must then exist;
  - GitLab: the `script:` lines run as one `bash -e` script (before_script
    only installs the image's packages: checked to be apt-get and not run);
    every artifacts path and the JUnit report must then exist.
Each JUnit file must be well-formed (xmllint when installed, and python's
parser) with test cases, each Markdown file must carry the score line, and
the GitHub job summary must have received the Markdown report.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import yaml


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def recipe_blocks(page):
    blocks = {}
    for m in re.finditer(r"^```yaml ci-recipe=(\w+)\n(.*?)^```$", page, re.M | re.S):
        if m.group(1) in blocks:
            fail("two ci-recipe=%s blocks in docs/ci-recipe.md" % m.group(1))
        try:
            blocks[m.group(1)] = yaml.safe_load(m.group(2))
        except yaml.YAMLError as e:
            fail("the %s snippet is not valid YAML: %s" % (m.group(1), e))
    for want in ("github", "gitlab"):
        if want not in blocks:
            fail("docs/ci-recipe.md has no ```yaml ci-recipe=%s block" % want)
    return blocks


def check_report(path):
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        fail("%s is missing or empty" % path)
    if path.endswith(".xml"):
        if shutil.which("xmllint"):
            if subprocess.run(["xmllint", "--noout", path]).returncode != 0:
                fail("%s is not well-formed XML" % path)
        try:
            cases = ET.parse(path).getroot().findall(".//testcase")
        except ET.ParseError as e:
            fail("%s does not parse: %s" % (path, e))
        if not cases:
            fail("%s has no test case" % path)
        if not all(c.get("name") for c in cases):
            fail("%s has a test case without a name" % path)
        print("  %s: %d test cases" % (os.path.basename(path), len(cases)))
    elif path.endswith(".md"):
        text = open(path).read()
        m = re.search(r"^- \*\*score: (\d+) of (\d+) rules pass, (\d+) skipped, (\d+) fail\*\*$",
                      text, re.M)
        if not m:
            fail("%s has no score line" % path)
        if int(m.group(1)) == 0 or int(m.group(4)) != 0:
            fail("%s: the example C plug-in should pass rules and fail none: %s"
                 % (path, m.group(0)))
        if not re.search(r"^\|.*\|$", text, re.M):
            fail("%s has no table" % path)
        print("  %s: %s" % (os.path.basename(path), m.group(0)))


def prepare(work, src):
    """The runtime author's checkout: their plug-in source as amc/plugin.c."""
    os.makedirs(os.path.join(work, "amc"))
    shutil.copy(os.path.join(src, "plugin", "testing", "minimal_plugin.c"),
                os.path.join(work, "amc", "plugin.c"))


def run(script, shell_flags, work, env, what):
    print("+ (%s) %s" % (what, script.strip().replace("\n", "\n  ")))
    r = subprocess.run(["bash"] + shell_flags + ["-c", script], cwd=work, env=env)
    if r.returncode != 0:
        fail("%s exited %d" % (what, r.returncode))


def main():
    src, build = sys.argv[1], sys.argv[2]
    page = open(os.path.join(src, "docs", "ci-recipe.md")).read()
    blocks = recipe_blocks(page)
    scratch = tempfile.mkdtemp(prefix="amc-ci-recipe-test.")
    try:
        out = subprocess.run(
            [os.path.join(src, "ci", "release-bundle.sh"), "--no-build",
             "--build-dir", build, "--out", os.path.join(scratch, "bundle")],
            stdout=subprocess.PIPE, text=True)
        if out.returncode != 0:
            fail("ci/release-bundle.sh exited %d" % out.returncode)
        tarball = out.stdout.strip().splitlines()[-1]
        home = os.path.join(scratch, "home")
        os.makedirs(home)
        base_env = {k: v for k, v in os.environ.items()
                    if k not in ("AMC_DATA_DIR", "AMC_BACKENDS", "PKG_CONFIG_PATH")}
        base_env["HOME"] = home

        # GitHub Actions.
        jobs = blocks["github"]["jobs"]
        if len(jobs) != 1:
            fail("the GitHub workflow should have one job")
        job = next(iter(jobs.values()))
        work = os.path.join(scratch, "github")
        prepare(work, src)
        env = dict(base_env)
        env.update({k: str(v) for k, v in job.get("env", {}).items()})
        env["AMC_BUNDLE_URL"] = "file://" + tarball
        summary = os.path.join(scratch, "github-step-summary.md")
        env["GITHUB_STEP_SUMMARY"] = summary
        uploads = []
        for step in job["steps"]:
            if "run" in step:
                run(step["run"], ["--noprofile", "--norc", "-eo", "pipefail"], work, env,
                    "GitHub step '%s'" % step.get("name", "?"))
            elif step.get("uses", "").startswith("actions/checkout@"):
                pass  # the prepared folder
            elif step.get("uses", "").startswith("actions/upload-artifact@"):
                uploads += [p for p in step["with"]["path"].split("\n") if p.strip()]
            else:
                fail("the GitHub workflow uses an action this test does not know: %s"
                     % step.get("uses"))
        if not any(p.endswith(".xml") for p in uploads) or not any(p.endswith(".md") for p in uploads):
            fail("the GitHub workflow does not upload both the JUnit and the Markdown: %s" % uploads)
        print("GitHub uploads:")
        for p in uploads:
            check_report(os.path.join(work, p.strip()))
        md = [p.strip() for p in uploads if p.strip().endswith(".md")][0]
        if not os.path.isfile(summary) or open(summary).read() != open(os.path.join(work, md)).read():
            fail("the job summary did not receive the Markdown report")

        # GitLab CI.
        jobs = {k: v for k, v in blocks["gitlab"].items() if not k.startswith(".")}
        if len(jobs) != 1:
            fail("the GitLab CI file should have one job")
        job = next(iter(jobs.values()))
        for line in job.get("before_script", []):
            if not line.startswith("apt-get "):
                fail("before_script does more than install packages: %s" % line)
        work = os.path.join(scratch, "gitlab")
        prepare(work, src)
        env = dict(base_env)
        env.update({k: str(v) for k, v in job.get("variables", {}).items()})
        env["AMC_BUNDLE_URL"] = "file://" + tarball
        run("\n".join(job["script"]), ["--noprofile", "--norc", "-e", "-o", "pipefail"],
            work, env, "GitLab script")
        artifacts = job["artifacts"]
        if artifacts.get("when") != "always":
            fail("GitLab artifacts are not kept when the job fails (when: always)")
        paths = list(artifacts["paths"])
        junit = artifacts["reports"]["junit"]
        if junit not in paths or not any(p.endswith(".md") for p in paths):
            fail("the GitLab job does not keep both the JUnit and the Markdown: %s" % paths)
        print("GitLab artifacts:")
        for p in paths:
            check_report(os.path.join(work, p))
    finally:
        shutil.rmtree(scratch)
    print("PASS")


if __name__ == "__main__":
    main()
