#!/usr/bin/env python3
"""check_man.py SOURCE_ROOT SBX: the manual pages render cleanly and say everything there is.

- data/sbx.1, data/sbxd.8 and data/sbxd.conf.5 render without a single warning
  (`groff -ww -z -man`; groff-base is a build dependency);
- every verb `sbx --help` lists has its `.SS` section in sbx(1), and every flag each verb's
  `sbx help VERB` lists is in it;
- every long option of sbxd's option table (src/daemon/main.c) is in sbxd(8), and every
  setting among them (not --help, --version, --config, --check-config) is a key of
  sbxd.conf(5), written `key = VALUE`.
So the pages cannot drift from the programs. Run by `meson test` (suite unit); exits 1 and
names every gap.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

NOT_KEYS = {"help", "version", "config", "check-config"}


def page_text(path):
    """The page's source with roff's escaped hyphens and font changes undone."""
    t = path.read_text()
    t = t.replace("\\-", "-").replace("\\&", "")
    return re.sub(r"\\f[BIRP]", "", t)


def usage_flags(usage):
    """The flags of a usage text's option lines (the rule completion.c follows)."""
    flags = []
    for line in usage.splitlines():
        s = line.lstrip(" ")
        if s == line or not s.startswith("-"):
            continue
        for part in s.split(", "):
            m = re.match(r"(-{1,2}[A-Za-z0-9][-A-Za-z0-9]*)", part)
            if not m:
                break
            flags.append(m.group(1))
            if not part.startswith("-") or " " in part.split(",")[0].strip():
                break
    return flags


def main():
    root, sbx = Path(sys.argv[1]), sys.argv[2]
    pages = {name: root / "data" / name for name in ("sbx.1", "sbxd.8", "sbxd.conf.5")}
    bad = []
    groff = shutil.which("groff")
    if not groff:
        bad.append("groff is not installed (Debian: groff-base; run scripts/install-deps.sh)")
    for name, path in pages.items():
        if groff:
            r = subprocess.run([groff, "-ww", "-z", "-man", str(path)], capture_output=True, text=True)
            if r.returncode != 0 or r.stderr.strip():
                bad.append(f"{name}: groff -ww warns: {r.stderr.strip()}")

    sbx1 = page_text(pages["sbx.1"])
    top = subprocess.run([sbx, "--help"], capture_output=True, text=True, check=True).stdout
    commands = top.split("Commands:", 1)[1].split("\n\n", 1)[0]
    verbs = re.findall(r"^  (\S+) +\S", commands, re.M)
    if len(verbs) < 10:
        bad.append(f"sbx --help lists only {verbs}: cannot parse it")
    for verb in verbs:
        if not re.search(rf"^\.SS {re.escape(verb)}$", sbx1, re.M):
            bad.append(f"sbx.1: no section (.SS {verb}) for the verb {verb}")
        if verb == "help":
            continue
        usage = subprocess.run([sbx, "help", verb], capture_output=True, text=True, check=True).stdout
        for flag in usage_flags(usage):
            if not re.search(rf"(?<![-\w]){re.escape(flag)}(?![-\w])", sbx1):
                bad.append(f"sbx.1: the flag {flag} of sbx {verb} is not documented")

    # every option sbxd has, as its own --check-config prints them (the table in main.c
    # takes some from the rooms' headers), plus the command-line-only ones of its --help
    sbxd = str(Path(sbx).resolve().parent / "sbxd")
    shown = subprocess.run([sbxd, "--check-config", "--config", "/dev/null"], capture_output=True, text=True).stdout
    options = re.findall(r"^#? ?([a-z][-a-z]*)(?: = |: not set)", shown, re.M)
    helptext = subprocess.run([sbxd, "--help"], capture_output=True, text=True).stdout
    options += [o for o in re.findall(r"--([a-z][-a-z]+)", helptext) if o not in options]
    if len(options) < 5:
        bad.append(f"sbxd --check-config: found only {options} in sbxd's options")
    sbxd8, conf5 = page_text(pages["sbxd.8"]), page_text(pages["sbxd.conf.5"])
    for opt in options:
        if not re.search(rf"--{re.escape(opt)}(?![-\w])", sbxd8):
            bad.append(f"sbxd.8: the option --{opt} is not documented")
        if opt not in NOT_KEYS and not re.search(rf"^\.BI? \"?{re.escape(opt)} = ", conf5, re.M):
            bad.append(f"sbxd.conf.5: the key {opt} (sbxd --{opt}) is not documented as `{opt} = VALUE`")

    for line in bad:
        print(line)
    print(f"man: {len(verbs)} verbs, {len(options)} sbxd options checked, {len(bad)} gaps")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
