#!/usr/bin/env python3
"""Pass/fail counts per group of an ETSI NGSI-LD conformance run (scripts/etsi-conformance.sh).

Reads OUT/<group>/output.xml (Robot Framework's result file), prints a table per group and per
second-level suite directory, and writes OUT/summary.md and OUT/failures.md (each failing test
with its suite file and robot's message) so that failures can be triaged without the HTML log.
Standard library only: it runs with any python3.
"""

import argparse
import os
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict


def tests_of(output_xml):
    """Yields (source, test name, status, message) for every test in a robot output.xml."""
    root = ET.parse(output_xml).getroot()

    def walk(suite):
        source = suite.get("source", "")
        for child in suite:
            if child.tag == "suite":
                yield from walk(child)
            elif child.tag == "test":
                # A test's own verdict is its last direct <status> child (keywords have theirs).
                status = [s for s in child if s.tag == "status"][-1]
                yield source, child.get("name"), status.get("status"), (status.text or "").strip()

    for suite in root.iter("suite"):
        yield from walk(suite)
        break


def area(source, marker):
    """The directory under the group's root, e.g. `Entities/CreateEntity` for a Provision test."""
    parts = source.split(os.sep)
    if marker in parts:
        rest = parts[parts.index(marker) + 1 : -1]
        return "/".join(rest[:2]) or "."
    return "."


GROUP_ROOTS = {
    "provision": "Provision",
    "entity": "Entity",
    "temporal": "TemporalEntity",
    "subscription": "Subscription",
    "common": "CommonResponses",
    "discovery": "Discovery",
    "csr-registration": "Registration",
    "csr-discovery": "Discovery",
    "csr-subscription": "RegistrationSubscription",
}
GROUP_TITLES = {
    "provision": "Provision",
    "entity": "Consumption / Entity",
    "temporal": "Consumption / TemporalEntity",
    "subscription": "Subscription (HTTP notifications)",
    "common": "Common responses",
    "discovery": "Consumption / Discovery",
    "csr-registration": "Context source / Registration",
    "csr-discovery": "Context source / Discovery",
    "csr-subscription": "Context source / Registration subscription",
}


def pct(passed, total):
    return f"{100.0 * passed / total:.1f}%" if total else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="the output directory of etsi-conformance.sh")
    parser.add_argument("groups", nargs="*", help="groups to report (default: all present)")
    parser.add_argument("--commit", default="unknown", help="the suite's commit")
    parser.add_argument(
        "--baseline-files",
        help="a file listing suite paths (TP/...robot), one a line: only tests of those files "
        "are counted (e.g. the robot files of an upstream ETSI commit, to leave out a mirror's "
        "own additions)",
    )
    args = parser.parse_args()
    baseline = None
    if args.baseline_files:
        with open(args.baseline_files, encoding="utf-8") as f:
            baseline = {line.strip() for line in f if line.strip()}

    groups = args.groups or [g for g in GROUP_ROOTS if os.path.exists(os.path.join(args.out, g))]
    rows, details, failures = [], [], []
    for group in groups:
        output = os.path.join(args.out, group, "output.xml")
        if not os.path.exists(output):
            rows.append((GROUP_TITLES.get(group, group), 0, 0, 0, 0))
            continue
        per_area = OrderedDict()
        counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        for source, name, status, message in tests_of(output):
            if baseline is not None and "TP" + os.sep + source.split(os.sep + "TP" + os.sep, 1)[
                -1
            ] not in baseline:
                continue
            counts[status] = counts.get(status, 0) + 1
            key = area(source, GROUP_ROOTS.get(group, ""))
            bucket = per_area.setdefault(key, {"PASS": 0, "FAIL": 0, "SKIP": 0})
            bucket[status] = bucket.get(status, 0) + 1
            if status == "FAIL":
                failures.append((group, source, name, message))
        total = counts["PASS"] + counts["FAIL"] + counts["SKIP"]
        rows.append((GROUP_TITLES.get(group, group), total, counts["PASS"], counts["FAIL"],
                     counts["SKIP"]))
        for key, c in sorted(per_area.items()):
            t = c["PASS"] + c["FAIL"] + c["SKIP"]
            details.append((GROUP_TITLES.get(group, group), key, t, c["PASS"], c["FAIL"]))

    scope = " (baseline files only)" if baseline is not None else ""
    lines = [f"Suite commit: {args.commit}{scope}", "",
             "| Group | Total | Passed | Failed | Skipped | Pass rate |",
             "|---|---:|---:|---:|---:|---:|"]
    for title, total, passed, failed, skipped in rows:
        lines.append(f"| {title} | {total} | {passed} | {failed} | {skipped} | "
                     f"{pct(passed, total)} |")
    lines += ["", "| Group | Area | Total | Passed | Failed | Pass rate |",
              "|---|---|---:|---:|---:|---:|"]
    for title, key, total, passed, failed in details:
        lines.append(f"| {title} | {key} | {total} | {passed} | {failed} | "
                     f"{pct(passed, total)} |")
    summary = "\n".join(lines) + "\n"
    suffix = "-baseline" if baseline is not None else ""
    with open(os.path.join(args.out, f"summary{suffix}.md"), "w", encoding="utf-8") as f:
        f.write(summary)
    with open(os.path.join(args.out, f"failures{suffix}.md"), "w", encoding="utf-8") as f:
        for group, source, name, message in failures:
            rel = source.split("TP" + os.sep, 1)[-1]
            f.write(f"## [{group}] {rel} :: {name}\n\n```\n{message[:2000]}\n```\n\n")
    print(summary)
    print(f"{len(failures)} failing tests listed in "
          f"{os.path.join(args.out, f'failures{suffix}.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
