#!/usr/bin/env python3
"""check_rooms.py: the rooms of src/ and the one-way rule between them, checked.

Each room may include the headers of the rooms listed for it and nothing else, so calls go
one way: the daemon's api -> controller -> store, all of them down to runtime, image and lib;
the shim (its own program) uses runtime, image and lib only; the CLI uses lib only. The
table below is the one docs/architecture.md ("Rooms") draws; a new room is added to both.
Run by `meson test` (suite unit); exits 1 and names every include that goes the wrong way.
"""
import re
import sys
from pathlib import Path

# room -> the rooms (besides itself) whose headers it may include
ALLOWED = {
    "src/lib": set(),
    "src/runtime": {"src/lib"},
    "src/image": {"src/runtime", "src/lib"},
    "src/shim": {"src/runtime", "src/image", "src/lib"},
    "src/daemon/store": {"src/daemon", "src/lib"},
    "src/daemon/controller": {"src/daemon", "src/daemon/store", "src/runtime", "src/image", "src/lib"},
    "src/daemon/api": {"src/daemon", "src/daemon/controller", "src/daemon/store", "src/lib"},
    # main.c wires the rooms together; daemon.h (the shared struct) includes the store's header
    "src/daemon": {"src/daemon/api", "src/daemon/controller", "src/daemon/store", "src/runtime",
                   "src/image", "src/lib"},
    "src/cli": {"src/lib"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(path):
    """The deepest room a source path (relative to the repository) lies in, or None."""
    best = None
    for room in ALLOWED:
        if path == room or path.startswith(room + "/"):
            if best is None or len(room) > len(best):
                best = room
    return best


def main():
    repo = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    bad, rooms_seen = [], set()
    for f in sorted((repo / "src").rglob("*.[ch]")):
        rel = f.relative_to(repo).as_posix()
        room = room_of(rel.rsplit("/", 1)[0])
        if room is None:
            bad.append(f"{rel}: in no room (add its folder to tests/rooms/check_rooms.py and docs/architecture.md)")
            continue
        rooms_seen.add(room)
        for inc in INCLUDE.findall(f.read_text(errors="replace")):
            target = room_of("src/" + inc.rsplit("/", 1)[0]) if "/" in inc else room
            if target is None or (target != room and target not in ALLOWED[room]):
                bad.append(f"{rel}: includes \"{inc}\" ({target or 'no room'}), which {room} may not call")
    missing = set(ALLOWED) - rooms_seen
    for room in sorted(missing):
        bad.append(f"{room}: listed as a room but holds no source")
    for line in bad:
        print(line)
    print(f"rooms: {len(rooms_seen)} checked, {len(bad)} wrong-way includes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
