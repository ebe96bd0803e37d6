"""test_crash_consistency.py: kill -9 the daemon (and shims) at random points, converge, and
count what is left.

A private sbxd runs rounds of the things users do: apply workspaces with a PersistentVolumeClaim
and write files to it with `sbx exec`, `sbx run`s (unnamed, so removed at their end), deletes.
In each round the daemon is killed with SIGKILL at a random moment while one of those requests
is in flight (and sometimes a workspace's shim is killed too), then started again and given
time to converge (every stored workspace Ready again). The choices are seeded: the seed is
printed, and SBX_CRASH_SEED=N replays a run.

At the end everything is deleted (sandboxes, then claims), the daemon is restarted without a
warm pool (so the last one's spares are reclaimed as any stop leaves them), and every kind of
leftover is counted (crashlib.Inventory.orphans): shims and pod holders, sandboxes' processes,
cgroups, mounts and loop devices under the root, state directories, id slots in the store and
in the host's registry. Also, every file whose write `sbx exec` acknowledged is still there
with its content while its claim exists. All must hold.

SBX_CRASH_ROUNDS=N runs N rounds (default 12: under a minute on 2 cores when idle, about two when busy); scripts/crash-soak.sh
runs long ones for nightly use.
"""

import json
import os
import random
import signal
import subprocess
import time

import crashlib
from crashlib import private_daemon
from sbxlib import explain, wait_until
from workspaces import apply, container, sandbox

WORKSPACES = ("cw-a", "cw-b", "cw-c")
USER = "alice"


def sleeper():
    return container("main", ["/usr/bin/python3", "-c", "import time; time.sleep(100000)"],
                     volumeMounts=[{"name": "data", "mountPath": "/data"}])


def manifest(name):
    return sandbox(name, [sleeper()], claims={"data": "16Mi"})


def stored_workspaces(d):
    return sorted(n for (ns, n), x in crashlib.records(d.root).items() if x.get("mode") == "pod")


def all_ready(d):
    r = d.run("get", "sandboxes", "-o", "json", user=USER, timeout=30)
    if r.returncode != 0:
        return False
    for o in json.loads(r.stdout).get("items", []):
        conds = {c["type"]: c["status"] for c in o.get("status", {}).get("conditions", [])}
        if conds.get("Ready") != "True":
            return False
    return True


class Crasher:
    def __init__(self, d, rng):
        self.d, self.rng = d, rng
        self.inv = crashlib.Inventory(d.root)
        self.written = {}  # (claim, file) -> content, for every acknowledged write
        self.serial = 0
        self.crashes = []  # the request in flight at each kill

    def cli(self, *args):
        return self.d.popen(*args, user=USER, stdin=subprocess.PIPE if args[0] == "apply" else subprocess.DEVNULL)

    def request(self):
        """A request to have in flight when the daemon dies, as a started Popen."""
        name = self.rng.choice(WORKSPACES)
        kind = self.rng.choice(["apply", "apply", "delete", "run", "exec"])
        if kind == "apply":
            p = self.cli("apply", "-f", "-")
            p.stdin.write(json.dumps(manifest(name)).encode())
            p.stdin.close()
            return kind, p
        if kind == "delete":
            return kind, self.cli("delete", "sandbox", name)
        if kind == "run":
            return kind, self.cli("run", "--", "true")
        return kind, self.cli("exec", name, "--", "sh", "-c", "echo x > /data/in-flight")

    def write_files(self):
        """Writes a file into each Ready workspace's claim; remembers the acknowledged ones."""
        for name in stored_workspaces(self.d):
            self.serial += 1
            fname, content = f"f{self.serial}", f"{name}-{self.serial}-{self.rng.random()}"
            r = self.d.run("exec", name, "--", "sh", "-c", f"printf %s '{content}' > /data/{fname}", user=USER)
            if r.returncode == 0:
                self.written[(f"data-{name}", fname)] = content

    def check_files(self):
        owner = self.d._user(USER).uid
        claims = {n for _, n in self._pvcs()}
        lost = []
        for (claim, fname), content in self.written.items():
            if claim not in claims:
                continue
            path = self.d.root / "volumes" / str(owner) / "default" / claim / fname
            try:
                got = path.read_text()
            except OSError as e:
                got = f"<{e.strerror}>"
            if got != content:
                lost.append((claim, fname, content, got))
        assert not lost, f"acknowledged writes lost: {lost}"

    def _pvcs(self):
        r = self.d.run("get", "pvc", "-o", "json", user=USER)
        assert r.returncode == 0, explain(r)
        return [("pvc", o["metadata"]["name"]) for o in json.loads(r.stdout).get("items", [])]

    def converge(self):
        ok = wait_until(lambda: all_ready(self.d), 90, interval=0.5)
        assert ok, f"workspaces not Ready 90 s after a restart:\n{self.d.run('get', 'sandboxes', user=USER).stdout}"
        self.inv.observe()

    def round(self):
        d, rng = self.d, self.rng
        # bring a workspace or two up (fine if they exist), write to their claims
        for name in rng.sample(WORKSPACES, rng.randint(1, 2)):
            r = apply(d.run, manifest(name), user=USER)
            assert r.returncode == 0, explain(r)
        self.converge()
        self.write_files()
        self.inv.observe()
        # sometimes a shim dies on its own
        if rng.random() < 0.4:
            names = stored_workspaces(d)
            if names:
                sid = crashlib.records(d.root)[("default", rng.choice(names))]["id"]
                for pid in crashlib.shims_of(sid):
                    os.kill(pid, signal.SIGKILL)
        # the crash: a request in flight, the daemon killed at a random moment of it
        kind, p = self.request()
        self.crashes.append(kind)
        time.sleep(rng.choice([rng.uniform(0, 0.05), rng.uniform(0, 0.3)]))
        self.inv.observe()
        d.kill9()
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        d.restart()
        self.converge()

    def finish(self):
        d = self.d
        self.check_files()
        for name in stored_workspaces(d) + [n for (_, n) in crashlib.records(d.root) if n not in WORKSPACES]:
            r = d.run("delete", "sandbox", name, user=USER, timeout=120)
            assert r.returncode == 0 or "not found" in r.stderr, explain(r)
        for _, claim in self._pvcs():
            r = d.run("delete", "pvc", claim, user=USER, timeout=60)
            assert r.returncode == 0, explain(r)
        assert wait_until(lambda: not crashlib.records(d.root), 60), crashlib.records(d.root)
        self.inv.observe()
        # the last daemon's spares: a stop leaves their slots, the next start reclaims them
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=30)
        d.extra_args = ["--warm-pool", "0"]
        d.start()


def test_crash_consistency(users):
    seed = int(os.environ.get("SBX_CRASH_SEED") or random.SystemRandom().randrange(1 << 30))
    rounds = int(os.environ.get("SBX_CRASH_ROUNDS") or 12)
    print(f"\ncrash consistency: seed {seed} (SBX_CRASH_SEED={seed} replays it), {rounds} rounds")
    with private_daemon(["--warm-pool", "2"]) as d:
        c = Crasher(d, random.Random(seed))
        for i in range(rounds):
            c.round()
        c.finish()
        left = c.inv.orphans()
        print(f"crash consistency: killed sbxd during {c.crashes}; {len(c.written)} acknowledged writes, "
              f"{len(c.inv.ids)} sandbox ids seen")
        found = {k: v for k, v in left.items() if v}
        assert not found, (f"seed {seed}: left behind after {rounds} crash rounds "
                           f"({len(c.inv.ids)} sandbox ids seen):\n{json.dumps(found, indent=1)}")
