"""test_create_secret_sources.py: `sbx create secret generic` without the secret on a command line.

A command line is readable by every local user while the command runs (/proc/PID/cmdline,
ps). The safe sources are --from-stdin=KEY (typed without echo on a terminal, or piped),
--from-file=[KEY=]PATH and --from-env-file=PATH (kubectl's KEY=VALUE lines); --from-literal
still works but warns. The tests run the CLI as alice and:

* hold it blocked reading its standard input (seen in /proc/PID/syscall) while every
  /proc/*/cmdline of the machine is searched for the three values it is given;
* check the stored bytes (binary-safe for --from-file; one final newline dropped from a pipe);
* type a value on a pseudo-terminal: it is not echoed, and the terminal's echo is back on
  afterwards, also when Ctrl-C ends sbx at the prompt;
* give bad sources (a missing file, bob's file alice may not read, a bad env-file line, a
  key twice, --from-stdin twice): a clear error, and nothing is created.
"""

import base64
import json
import os
import re
import secrets
import shutil
import subprocess

from conftest import sanitizer_reports
from sbxlib import explain, run_in_pty, unique_name, wait_until
from test_cli_verbs import not_found, secret_json, user_file

LITERAL_WARNING = "warning: --from-literal puts the value of"


def blocked_reading_stdin(pid):
    """True while pid sits in read(0, ...) (/proc/PID/syscall: number 0, first argument 0)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return False
    return len(fields) > 1 and fields[0] == "0" and int(fields[1], 16) == 0


def echo_on(stty_a):
    """Whether `stty -a` output says echo is on ("echo", not "-echo")."""
    return re.search(r"(^|\s)echo(\s|;|$)", stty_a, re.M) is not None


def command_lines():
    """{pid: cmdline bytes} of every process of the machine (root reads them all)."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    out[int(p)] = f.read()
            except OSError:
                pass
    return out


def test_values_are_never_on_a_command_line(daemon, sbx, users):
    alice = users["alice"]
    name = unique_name("sec")
    typed = "hf_typed_" + secrets.token_hex(12)
    in_env_file = "hf_envfile_" + secrets.token_hex(12)
    in_file = ("hf_file_" + secrets.token_hex(12)).encode()
    blob = b"\x00\xff\n" + in_file + b"\r\n\x00"  # every byte must be kept
    f = user_file(alice, f"{name}.bin", blob)
    env = user_file(alice, f"{name}.env", f"# HF credentials\n\nHF_TOKEN={in_env_file}\n  USER_NAME=alice smith\n")
    args = ["create", "secret", "generic", name, f"--from-file=blob={f}", f"--from-env-file={env}",
            "--from-stdin=typed"]
    p = daemon.popen(*args, user=alice, stdin=subprocess.PIPE)
    try:
        assert wait_until(lambda: blocked_reading_stdin(p.pid) or p.poll() is not None, 30)
        assert p.poll() is None, p.communicate()
        lines = command_lines()
        assert b"--from-stdin=typed" in lines[p.pid], "the scan did not see sbx itself"
        for value in (typed.encode(), in_env_file.encode(), in_file):
            seen = [pid for pid, cmd in lines.items() if value in cmd]
            assert not seen, f"{value!r} is on the command line of {seen}"
        out, err = p.communicate(typed.encode() + b"\n", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, (out, err)
    assert LITERAL_WARNING not in err.decode() and not sanitizer_reports(err.decode()), err
    data = secret_json(sbx, name, "alice")["data"]
    assert {k: base64.b64decode(v) for k, v in data.items()} == {
        "blob": blob, "HF_TOKEN": in_env_file.encode(), "USER_NAME": b"alice smith", "typed": typed.encode()}
    assert sbx("delete", "secret", name, user="alice").returncode == 0


def test_stdin_from_a_pipe_keeps_its_bytes_but_one_final_newline(sbx, users):
    name = unique_name("sec")
    for given, stored in ((b"tok\n", b"tok"), (b"tok\r\n", b"tok"), (b"a\x00b\n\n", b"a\x00b\n"), (b"raw", b"raw"),
                          (b"", b"")):
        r = sbx("create", "secret", "generic", name, "--from-stdin=v", user="alice", input=given, text=False)
        assert r.returncode == 0, explain(r)
        assert base64.b64decode(secret_json(sbx, name, "alice")["data"]["v"]) == stored, given
        assert sbx("delete", "secret", name, user="alice").returncode == 0


def test_stdin_on_a_terminal_is_typed_without_echo(daemon, sbx, users):
    alice = users["alice"]
    name = unique_name("sec")
    typed = "hf_tty_" + secrets.token_hex(12)
    env = daemon.env(alice)
    sbx_cmd = " ".join(daemon.argv(["create", "secret", "generic", name, "--from-stdin=HF_TOKEN"]))
    # the shell reports the terminal's echo setting after sbx is gone
    shell = [shutil.which("setpriv"), f"--reuid={alice.uid}", f"--regid={alice.gid}", "--init-groups", "--", "/bin/sh", "-c",
             f"trap 'echo interrupted' INT; {sbx_cmd}; echo status $?; stty -a"]
    status, out = run_in_pty(shell, env, send=typed.encode() + b"\r", send_after=b"HF_TOKEN: ")
    text = out.decode(errors="replace")
    assert status == 0 and "status 0" in text and not sanitizer_reports(text), text
    assert typed not in text, f"the value was echoed: {text!r}"
    assert echo_on(text.split("status 0")[1]), f"echo was left off: {text}"
    assert base64.b64decode(secret_json(sbx, name, "alice")["data"]["HF_TOKEN"]) == typed.encode()
    assert sbx("delete", "secret", name, user="alice").returncode == 0

    # Ctrl-C at the prompt: sbx dies of SIGINT, nothing is created, echo is on again
    status, out = run_in_pty(shell, env, send=b"\x03", send_after=b"HF_TOKEN: ")
    text = out.decode(errors="replace")
    assert "status 130" in text, text
    assert echo_on(text.split("status 130")[1]), f"echo was left off: {text}"
    assert not_found(sbx("get", "secret", name, user="alice"))


def test_a_literal_secret_is_warned_about(sbx, users):
    name = unique_name("sec")
    r = sbx("create", "secret", "generic", name, "--from-literal=token=visible", user="alice")
    assert r.returncode == 0, explain(r)
    assert f"{LITERAL_WARNING} token on the command line" in r.stderr, r.stderr
    assert "--from-stdin=token" in r.stderr, r.stderr
    assert sbx("delete", "secret", name, user="alice").returncode == 0
    # a configmap holds no secret: no warning
    r = sbx("create", "configmap", name, "--from-literal=mode=dev", user="alice")
    assert r.returncode == 0 and r.stderr == "", explain(r)
    assert sbx("delete", "configmap", name, user="alice").returncode == 0


def test_bad_sources_are_refused_clearly(sbx, users):
    alice, bob = users["alice"], users["bob"]
    name = unique_name("sec")
    bobs = user_file(bob, f"{name}.bob", "BOBS_TOKEN=bob-only\n")
    env_bad = user_file(alice, f"{name}.bad.env", "A=1\n# fine\n\n1NOPE=2\n")
    env_dup = user_file(alice, f"{name}.dup.env", "A=1\nB=2\nA=3\n")
    env_bare = user_file(alice, f"{name}.bare.env", "A=1\nSBX_TEST_SURELY_UNSET\n")
    cases = [
        ([f"--from-file=/nonexistent/{name}"], f"cannot read /nonexistent/{name}: no such file"),
        ([f"--from-file=k={bobs}"], f"cannot read {bobs}: permission denied (sbx reads files with the rights"),
        ([f"--from-env-file={bobs}"], f"cannot read {bobs}: permission denied"),
        ([f"--from-env-file={env_bad}"], f'{env_bad}, line 4: "1nope" is not a valid key name'),
        ([f"--from-env-file={env_dup}"], f"{env_dup}, line 3: cannot add key a, another key by that name"),
        ([f"--from-env-file={env_bare}"], f"{env_bare}, line 2: sbx_test_surely_unset has no '='"),
        ([f"--from-env-file={env_dup.parent}"], "is not a regular file"),
        (["--from-literal=B=x", f"--from-env-file={env_dup}"], "line 2: cannot add key b"),
        (["--from-stdin=a", "--from-stdin=b"], "--from-stdin can be given once"),
        (["--from-stdin=a/b"], '"a/b" is not a valid key name'),
    ]
    for args, needle in cases:
        r = sbx("create", "secret", "generic", name, *args, user="alice", input="piped\n", timeout=30)
        assert r.returncode != 0 and needle in r.stderr.lower(), explain(r)
        assert "bob-only" not in r.stdout + r.stderr
        assert not_found(sbx("get", "secret", name, user="alice")), f"{args} created it anyway"
    # only generic secrets: no docker-registry (image pulls are not this command's)
    r = sbx("create", "secret", "docker-registry", name, "--from-stdin=x", user="alice", input="y")
    assert r.returncode != 0 and "sbx creates generic secrets" in r.stderr, explain(r)
