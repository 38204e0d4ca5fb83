#!/usr/bin/env python3
"""Lifeboat vs restic, rustic and BorgBackup: one run, same data, same machine.

Makes (or reuses) a data set — the shared synthetic one (`--dataset
synthetic`, from make-datasets.py) or a real operating-system tree copied
from this machine's /usr and /etc (`--dataset os`) — then for every tool runs, in
order: init, initial backup of files-v1, no-change re-backup, changed backup
(files-v2 at the same path), full restore of the latest snapshot (checked
with `diff -r` against files-v2), verify with a full data read, then, in a
second, freshly initialised repository of its own (same settings), disk image
initial backup (disk-v1) and changed backup (disk-v2 at the same path). The
image gets its own repository so that it cannot deduplicate against the file
backups (the ext4 image contains the very files of files-v1).

The OS data set has no image, so its runs have no disk steps. `--cache
both` runs everything twice, first with the page cache dropped before every
step (cold), then with the step's input and repository read just before it
(warm, what a vault on fast NVMe looks like), and reports both side by side
against the fastest peer of each row.

Each step is timed (wall seconds), with the child's peak RSS (os.wait4
ru_maxrss) and the size of the step's repository after the step (`du -sb`;
the disk repository for the disk steps). Writes a
Markdown table (default bench/RESULTS.md) and the raw numbers as JSON
(results.json next to it). A missing tool or a failing step is recorded as
"failed: <reason>"; the harness always writes its table.

Python 3.11, standard library only.  See bench/README.md.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH)
MAKER = "/work/shared/bench/make-datasets.py"
SEED = 42
MIB = 1024 * 1024
PASSWORD = "lifeboat-bench-not-a-secret"

# (key, label shown in the table). "init" and "disk_init" are run and
# recorded in the JSON, but not shown in the table. The disk steps
# (DISK_STEPS) run against a second repository, initialised by "disk_init"
# with the same command and settings as the main one.
STEPS = [
    ("init", "init"),
    ("backup_v1", "initial backup (files-v1)"),
    ("backup_nochange", "no-change re-backup (files-v1)"),
    ("backup_v2", "changed backup (files-v2, same path)"),
    ("restore", "full restore of latest snapshot"),
    ("verify", "verify, full data read"),
    ("disk_init", "init of the separate disk repository"),
    ("disk_v1", "disk image initial backup (disk-v1, own repo)"),
    ("disk_v2", "disk image changed backup (disk-v2, same path, own repo)"),
]
DISK_STEPS = {"disk_init", "disk_v1", "disk_v2"}
TABLE_STEPS = [s for s in STEPS if s[0] not in ("init", "disk_init")]


# --------------------------------------------------------------------------
# tools: how each one is driven. Paths are absolute; `src` is the fixed tree
# path, `disk` the fixed image path, `repo` the repository/vault directory
# (the disk repository for the disk steps: bench_tool passes a `c` and an
# environment pointing at it), `target` an empty restore directory.
# --------------------------------------------------------------------------

class Tool:
    name = "?"
    ok_codes = {0: None}          # exit code -> warning text (None: clean)

    def __init__(self, exe):
        self.exe = exe

    def env(self, home, repo):
        return {}

    def open_argv(self):
        """A command that only opens the repository (unlock key, read config):
        the fixed cost every command pays. None if the tool has none."""
        return None

    def version(self):
        try:
            out = subprocess.run([self.exe, "--version"], capture_output=True,
                                 text=True, timeout=30)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except Exception as e:  # noqa: BLE001 - just informational
            return f"unknown ({e.__class__.__name__})"


class Restic(Tool):
    name = "restic"
    ok_codes = {0: None, 3: "rc 3: snapshot incomplete (some files unreadable)"}
    settings = ("repository format 2 (default `stable` in 0.14), default "
                "compression `auto` (zstd), `RESTIC_PASSWORD` from the env, "
                "cache in an isolated `$HOME/.cache`")

    def env(self, home, repo):
        return {"RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": repo,
                "RESTIC_CACHE_DIR": os.path.join(home, ".cache", "restic")}

    def version(self):
        try:
            return subprocess.run([self.exe, "version"], capture_output=True,
                                  text=True, timeout=30).stdout.strip()
        except Exception as e:  # noqa: BLE001
            return f"unknown ({e.__class__.__name__})"

    def open_argv(self):
        return [self.exe, "cat", "config"]

    def restore_argv(self, c):
        # restic puts the absolute path under the target
        return [self.exe, "restore", "latest", "--path", c["src"], "--target", c["target"]]

    def argv(self, step, c):
        x = self.exe
        return {
            "init": ([x, "init"], None),
            "backup_v1": ([x, "backup", c["src"]], None),
            "backup_nochange": ([x, "backup", c["src"]], None),
            "backup_v2": ([x, "backup", c["src"]], None),
            "restore": (self.restore_argv(c), None),
            "verify": ([x, "check", "--read-data"], None),
            "disk_v1": ([x, "backup", c["disk"]], None),
            "disk_v2": ([x, "backup", c["disk"]], None),
        }[step]


class Borg(Tool):
    name = "borg"
    ok_codes = {0: None, 1: "rc 1: borg warning"}
    settings = ("`borg init -e repokey-blake2`, `borg create --compression "
                "zstd,3`, default chunker (buzhash) for files and the image, "
                "`BORG_PASSPHRASE` from the env, cache in an isolated "
                "`BORG_BASE_DIR`")

    def env(self, home, repo):
        return {"BORG_PASSPHRASE": PASSWORD, "BORG_REPO": repo,
                "BORG_BASE_DIR": home, "BORG_DISPLAY_PASSPHRASE": "no",
                "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}

    def open_argv(self):
        return [self.exe, "list", "--short"]

    def argv(self, step, c):
        x, create = self.exe, [self.exe, "create", "--compression", "zstd,3"]
        extra = c.get("borg_disk_extra", [])
        return {
            "init": ([x, "init", "-e", "repokey-blake2"], None),
            "backup_v1": (create + ["::files-1", c["src"]], None),
            "backup_nochange": (create + ["::files-2", c["src"]], None),
            "backup_v2": (create + ["::files-3", c["src"]], None),
            # borg extracts into the cwd, path without the leading "/"
            "restore": ([x, "extract", "::files-3"], c["target"]),
            "verify": ([x, "check", "--verify-data"], None),
            "disk_v1": (create + extra + ["::disk-1", c["disk"]], None),
            "disk_v2": (create + extra + ["::disk-2", c["disk"]], None),
        }[step]


class Rustic(Restic):
    """restic's commands and repository format; its own restore syntax."""
    name = "rustic"
    ok_codes = {0: None}
    settings = ("restic repository format 2, default compression (zstd), "
                "`RUSTIC_PASSWORD` from the env, cache in an isolated `$HOME/.cache`")

    def env(self, home, repo):
        return {"RUSTIC_PASSWORD": PASSWORD, "RUSTIC_REPOSITORY": repo,
                "RUSTIC_CACHE_DIR": os.path.join(home, ".cache", "rustic"),
                "RUSTIC_NO_PROGRESS": "true"}

    def version(self):
        return Tool.version(self)

    def restore_argv(self, c):
        return [self.exe, "restore", f"latest:{c['src']}", c["target"]]


class Lifeboat(Tool):
    name = "lifeboat"
    settings = "defaults, `LIFEBOAT_PASSPHRASE` from the env"

    def env(self, home, repo):
        return {"LIFEBOAT_PASSPHRASE": PASSWORD}

    def argv(self, step, c):
        s, v = [self.exe, "store"], ["--vault", c["repo"]]
        return {
            "init": (s + ["init"] + v, None),
            "backup_v1": (s + ["backup"] + v + [c["src"]], None),
            "backup_nochange": (s + ["backup"] + v + [c["src"]], None),
            "backup_v2": (s + ["backup"] + v + [c["src"]], None),
            "restore": (s + ["restore"] + v + ["latest", "--target",
                                               c["target"]], None),
            "verify": (s + ["verify"] + v + ["--read-data"], None),
            "disk_v1": (s + ["backup"] + v + ["--disk", c["disk"]], None),
            "disk_v2": (s + ["backup"] + v + ["--disk", c["disk"]], None),
        }[step]


TOOLS = {"lifeboat": Lifeboat, "restic": Restic, "rustic": Rustic, "borg": Borg}
PEERS = ("restic", "rustic", "borg")

# Targets of the issue "A restore brings a machine back exactly": Lifeboat
# against the fastest peer of each row, in both cache modes.
TARGETS = {"restore": 3.0, "backup_v1": 3.0, "backup_v2": 2.5,
           "backup_nochange": 5.0, "verify": 3.0}

# ext4 without a journal (this machine's root) skips inodes freed in the
# last 60 s when it allocates new ones, reading their inode-table blocks:
# creating a tree right after deleting one costs several times the sys
# time (perf: recently_deleted, find_inode_bit). Restores therefore start
# at least this long after the harness last deleted many files.
SETTLE_AFTER_DELETE_S = 65
_last_mass_delete = [0.0]
_settle_s = [SETTLE_AFTER_DELETE_S]


def mass_deleted():
    _last_mass_delete[0] = time.monotonic()


def settle():
    # Written back, the freed inodes' table blocks count as clean: 60 s,
    # not the 360 s the kernel waits for dirty ones.
    os.sync()
    wait = _last_mass_delete[0] + _settle_s[0] - time.monotonic()
    if wait > 0:
        log(f"waiting {wait:.0f} s for freed inodes to age (ext4 without a journal)")
        time.sleep(wait)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def sh(argv, **kw):
    """Untimed helper command; raises on failure."""
    return subprocess.run(argv, check=True, **kw)


def du_bytes(path):
    if not os.path.exists(path):
        return None
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True)
    try:
        return int(out.stdout.split()[0])
    except (IndexError, ValueError):
        return None


def tree_stats(path):
    n = b = 0
    for dp, _, fs in os.walk(path):
        for f in fs:
            n += 1
            b += os.lstat(os.path.join(dp, f)).st_size
    return n, b


def machine_info():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    return {"cpu_model": cpu, "nproc": nproc,
            "ram_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
            "kernel": platform.release(), "python": platform.python_version(),
            "loadavg_start": os.getloadavg()}


def fs_of(path):
    """(fstype, device) of the mount holding path, from /proc/mounts."""
    best = ("?", "?", "")
    path = os.path.realpath(path)
    try:
        for line in open("/proc/mounts"):
            dev, mnt, fstype = line.split()[:3]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
                    and len(mnt) >= len(best[2]):
                best = (fstype, dev, mnt)
    except OSError:
        pass
    return f"{best[0]} on {best[1]}"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


# --------------------------------------------------------------------------
# data set
# --------------------------------------------------------------------------

def ensure_data(root, size_mib):
    """Make (or reuse) DATA_ROOT/mib-N; return its path."""
    d = os.path.join(root, f"mib-{size_mib}")
    params = {"size_mib": size_mib, "seed": SEED,
              "maker_sha256": sha256_file(MAKER)}
    marker = os.path.join(d, "params.json")
    need = ["files-v1", "files-v2", "disk-v1.raw", "disk-v2.raw"]
    if os.path.exists(marker):
        try:
            if json.load(open(marker)) == params and all(
                    os.path.exists(os.path.join(d, n)) for n in need):
                log(f"reusing data in {d}")
                return d
        except (OSError, ValueError):
            pass
        log(f"data in {d} was made with other parameters; remaking")
        shutil.rmtree(d)
    elif os.path.exists(d):
        sys.exit(f"{d} exists but has no params.json; remove it first")
    partial = d + ".partial"
    if os.path.exists(partial):
        shutil.rmtree(partial)
    os.makedirs(root, exist_ok=True)
    log(f"making {size_mib} MiB data set in {d} (one-off)")
    t0 = time.monotonic()
    sh([sys.executable, MAKER, "--out", partial, "--size-mib", str(size_mib),
        "--seed", str(SEED)])
    with open(os.path.join(partial, "params.json"), "w") as f:
        json.dump(params, f)
    os.rename(partial, d)
    log(f"data made in {time.monotonic() - t0:.0f} s")
    return d


# The real operating-system data set: folders of this machine's own system,
# copied with owners, modes, ACLs and xattrs. files-v2 is files-v1 after an
# upgrade-like change: one folder gone, another added.
OS_V1 = ["/etc", "/usr/sbin", "/usr/include", "/usr/share/doc", "/usr/share/man",
         "/usr/lib/python3.11"]
OS_V2_REMOVED = ["/usr/share/doc"]
OS_V2_ADDED = ["/usr/share/locale"]


def ensure_os_data(root):
    """Make (or reuse) DATA_ROOT/os from this machine's system folders."""
    d = os.path.join(root, "os")
    params = {"v1": OS_V1, "v2_removed": OS_V2_REMOVED, "v2_added": OS_V2_ADDED}
    marker = os.path.join(d, "params.json")
    if os.path.exists(marker):
        try:
            if json.load(open(marker)) == params:
                log(f"reusing data in {d}")
                return d
        except (OSError, ValueError):
            pass
    if os.path.exists(d):
        shutil.rmtree(d)
    partial = d + ".partial"
    if os.path.exists(partial):
        shutil.rmtree(partial)
    log(f"copying the operating-system data set into {d} (one-off)")
    v1, v2 = os.path.join(partial, "files-v1"), os.path.join(partial, "files-v2")
    os.makedirs(v1)
    for src in [p for p in OS_V1 if os.path.isdir(p)]:
        sh(["rsync", "-aAXR", src + "/", v1 + "/"])
    sh(["rsync", "-aAX", v1 + "/", v2 + "/"])
    for gone in OS_V2_REMOVED:
        shutil.rmtree(os.path.join(v2, gone.lstrip("/")), ignore_errors=True)
    for new in [p for p in OS_V2_ADDED if os.path.isdir(p)]:
        sh(["rsync", "-aAXR", new + "/", v2 + "/"])
    with open(os.path.join(partial, "params.json"), "w") as f:
        json.dump(params, f)
    os.rename(partial, d)
    return d


def data_info(d):
    info = {}
    for t in ("files-v1", "files-v2"):
        n, b = tree_stats(os.path.join(d, t))
        info[t] = {"files": n, "bytes": b}
    for img in ("disk-v1.raw", "disk-v2.raw"):
        if not os.path.exists(os.path.join(d, img)):
            continue
        st = os.stat(os.path.join(d, img))
        info[img] = {"apparent_bytes": st.st_size,
                     "allocated_bytes": st.st_blocks * 512}
    return info


# --------------------------------------------------------------------------
# page cache
# --------------------------------------------------------------------------

def drop_caches():
    """sync + drop the page cache; True if it worked."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def drop_caches_effective():
    """Check that dropping caches really evicts a file we just read."""
    probe = os.path.join(BENCH, "work", ".dropcache-probe")
    os.makedirs(os.path.dirname(probe), exist_ok=True)
    with open(probe, "wb") as f:
        f.write(os.urandom(8 * MIB))
    try:
        with open(probe, "rb") as f:
            f.read()
        if not drop_caches():
            return False, "writing /proc/sys/vm/drop_caches failed"
        if shutil.which("fincore"):
            out = subprocess.run(["fincore", "-nb", "-o", "RES", probe],
                                 capture_output=True, text=True).stdout.split()
            if out and out[0].isdigit() and int(out[0]) > 1 * MIB:
                return False, f"drop_caches accepted but {out[0]} B stayed cached"
        return True, "drop_caches works"
    finally:
        os.remove(probe)


def warm(paths):
    """Read every file under paths once, so each tool starts warm."""
    for p in paths:
        if os.path.isfile(p):
            files = [p]
        else:
            files = (os.path.join(dp, f) for dp, _, fs in os.walk(p) for f in fs)
        for fp in files:
            try:
                with open(fp, "rb") as f:
                    while f.read(4 * MIB):
                        pass
            except OSError:
                pass


# --------------------------------------------------------------------------
# running one timed step
# --------------------------------------------------------------------------

def last_line(path, limit=120):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 8192))
            lines = [l.strip() for l in f.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    lines = [l for l in lines if l]
    for l in reversed(lines):  # prefer the line that says what went wrong
        if any(w in l.lower() for w in ("fatal", "error", "failed", "panic")):
            return l[:limit]
    return lines[-1][:limit] if lines else ""


GNU_TIME = "/usr/bin/time"


def run_timed(argv, env, cwd, logbase, timeout):
    """Run argv; return dict(rc, seconds, maxrss_kib, user_s, sys_s, reason).

    Peak RSS comes from GNU time's %M when /usr/bin/time exists: Linux keeps
    a process's max RSS across exec(), so a child spawned straight from this
    Python process would report at least the harness's own ~20 MiB; GNU time
    is a small C program that forks a fresh child, so its floor is ~1-2 MiB.
    Without it, wait4's ru_maxrss is used (and carries that floor)."""
    out_p, err_p, time_p = logbase + ".out", logbase + ".err", logbase + ".time"
    use_time = os.access(GNU_TIME, os.X_OK)
    full = ([GNU_TIME, "-f", "%e %M %U %S", "-o", time_p, "--"] + argv
            if use_time else argv)
    with open(logbase + ".cmd", "w") as f:
        f.write(" ".join(argv) + "\n")
    with open(out_p, "wb") as out, open(err_p, "wb") as err:
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(full, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=err, start_new_session=True)
        except OSError as e:
            return {"rc": None, "reason": f"cannot start: {e.strerror}"}
        timed_out = []

        def kill():
            timed_out.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        secs = time.monotonic() - t0
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
    r = {"rc": p.returncode, "seconds": round(secs, 3),
         "maxrss_kib": ru.ru_maxrss, "user_s": round(ru.ru_utime, 3),
         "sys_s": round(ru.ru_stime, 3), "rss_source": "wait4", "log": out_p}
    if use_time:
        try:
            last = open(time_p).read().strip().splitlines()[-1].split()
            r.update(gnu_time_wall_s=float(last[0]), maxrss_kib=int(last[1]),
                     user_s=float(last[2]), sys_s=float(last[3]),
                     rss_source="GNU time %M")
            if p.returncode == 127 and not os.path.exists(argv[0]):
                r["reason"] = f"cannot start: {argv[0]} not found"
        except (OSError, IndexError, ValueError):
            pass
    if timed_out:
        r["reason"] = f"timeout after {timeout} s"
    elif p.returncode < 0:
        r["reason"] = f"killed by signal {-p.returncode}"
    elif r.get("reason"):
        pass
    elif p.returncode != 0:
        r["reason"] = f"rc {p.returncode}: " + (last_line(err_p) or last_line(out_p))
    return r


def find_restored(target, expect):
    """The directory under target whose entries are those of expect."""
    want = set(os.listdir(expect))
    for dp, dirs, _ in os.walk(target):
        if set(os.listdir(dp)) == want:
            return dp
        if dp[len(target):].count(os.sep) > 12:
            dirs[:] = []
    return None


def check_restore(target, expect, logbase):
    got = find_restored(target, expect)
    if got is None:
        return "MISMATCH: restored tree not found under target"
    d = subprocess.run(["diff", "-r", "-q", expect, got], capture_output=True, text=True)
    with open(logbase + ".diff", "w") as f:
        f.write(d.stdout + d.stderr)
    if d.returncode == 0:
        return "ok"
    n = len(d.stdout.splitlines())
    return f"MISMATCH: {n} differences (see {os.path.relpath(logbase, BENCH)}.diff)"


# --------------------------------------------------------------------------
# one tool, all steps
# --------------------------------------------------------------------------

def bench_tool(tool, data, work, args, cache_mode):
    name = tool.name
    has_disk = os.path.exists(os.path.join(data, "disk-v1.raw"))
    res = {"version": None, "steps": {}, "restore_check": None, "warnings": []}
    steps = res["steps"]

    def fail_all(reason):
        for k, _ in STEPS:
            steps.setdefault(k, {"reason": reason})
        return res

    if not (os.path.isfile(tool.exe) and os.access(tool.exe, os.X_OK)):
        return fail_all("binary not found" if name == "lifeboat" else "not installed")
    res["version"] = tool.version()
    log(f"== {name}: {res['version']}")

    tdir = os.path.join(work, cache_mode, name)
    if os.path.exists(tdir):
        shutil.rmtree(tdir)
        mass_deleted()
    home, logs = os.path.join(tdir, "home"), os.path.join(tdir, "logs")
    repo, target = os.path.join(tdir, "repo"), os.path.join(tdir, "restore")
    # The disk image goes into a repository of its own (same settings), so
    # it cannot deduplicate against the file backups.
    disk_repo = os.path.join(tdir, "disk-repo")
    src, disk = os.path.join(work, "src"), os.path.join(work, "disk.raw")
    for p in (home, logs):
        os.makedirs(p)
    c = {"src": src, "disk": disk, "repo": repo, "target": target}
    if name == "borg" and args.borg_disk_chunker:
        c["borg_disk_extra"] = ["--chunker-params", args.borg_disk_chunker]
    c_disk = dict(c, repo=disk_repo)
    env = dict(os.environ)
    env.update({"HOME": home, "XDG_CACHE_HOME": os.path.join(home, ".cache"),
                "XDG_CONFIG_HOME": os.path.join(home, ".config"),
                "LC_ALL": "C.UTF-8"})
    env_disk = dict(env)
    env.update(tool.env(home, repo))
    env_disk.update(tool.env(home, disk_repo))
    res["repos"] = {"main": repo, "disk": disk_repo}

    # untimed preparation for each step
    def prep(step):
        if step == "backup_v1":
            if os.path.exists(src):
                shutil.rmtree(src)
                mass_deleted()
            sh(["rsync", "-aAX", "--delete", os.path.join(data, "files-v1") + "/", src + "/"])
        elif step == "backup_v2":
            # Deletes ~1 % of the files: too few to slow a restore.
            sh(["rsync", "-aAX", "--delete", os.path.join(data, "files-v2") + "/", src + "/"])
        elif step == "restore":
            if os.path.exists(target):
                shutil.rmtree(target)
                mass_deleted()
            os.makedirs(target)
            settle()
        elif step == "disk_v1":
            if os.path.exists(disk):
                os.remove(disk)
            sh(["cp", "--sparse=always", os.path.join(data, "disk-v1.raw"), disk])
        elif step == "disk_v2":
            # rewritten in place: same path and inode, new mtime/content
            sh(["cp", "--sparse=always", os.path.join(data, "disk-v2.raw"), disk])

    inputs = {"backup_v1": [src], "backup_nochange": [src], "backup_v2": [src],
              "restore": [], "verify": [], "disk_v1": [disk], "disk_v2": [disk]}

    for step, label in STEPS:
        if step in DISK_STEPS and not has_disk:
            continue
        if step == "backup_v1" and tool.open_argv() and not steps["init"].get("reason"):
            if cache_mode == "cold":
                drop_caches()
            o = run_timed(tool.open_argv(), env, None, os.path.join(logs, "open"), args.timeout)
            res["open"] = o
            if not o.get("reason"):
                log(f"{name}: open repository only: {o['seconds']:.2f} s")
        if step != "init" and steps.get("init", {}).get("reason"):
            steps[step] = {"reason": "init failed"}
            continue
        if step in ("disk_v1", "disk_v2") and steps.get("disk_init", {}).get("reason"):
            steps[step] = {"reason": "disk repository init failed"}
            continue
        is_disk = step in DISK_STEPS
        s_repo = disk_repo if is_disk else repo
        s_env = env_disk if is_disk else env
        try:
            prep(step)
        except (subprocess.CalledProcessError, OSError) as e:
            steps[step] = {"reason": f"preparation failed: {e}"}
            continue
        if step == "init":
            os.makedirs(src, exist_ok=True)
        if cache_mode == "cold":
            drop_caches()
        elif cache_mode == "warm":
            warm(inputs.get(step, []) + ([s_repo] if os.path.exists(s_repo) else []))
            os.sync()
        argv, cwd = tool.argv("init" if step == "disk_init" else step,
                              c_disk if is_disk else c)
        log(f"{name}: {label} ...")
        r = run_timed(argv, s_env, cwd, os.path.join(logs, step), args.timeout)
        rc = r.get("rc")
        if rc in tool.ok_codes:
            r.pop("reason", None)
            if tool.ok_codes[rc]:
                r["warning"] = tool.ok_codes[rc]
                res["warnings"].append(f"{label}: {tool.ok_codes[rc]}")
        t1 = time.monotonic()
        os.sync()
        r["sync_after_s"] = round(time.monotonic() - t1, 3)
        r["repo"] = "disk" if is_disk else "main"
        r["repo_bytes"] = du_bytes(s_repo)
        steps[step] = r
        if r.get("reason"):
            log(f"{name}: {label}: FAILED: {r['reason']}")
        else:
            log(f"{name}: {label}: {r['seconds']:.2f} s, "
                f"{r['maxrss_kib'] / 1024:.0f} MiB RSS, "
                f"{'disk ' if is_disk else ''}repo {(r['repo_bytes'] or 0) / MIB:.1f} MiB")
        if step == "restore":
            if r.get("reason"):
                res["restore_check"] = "restore failed"
            else:
                res["restore_check"] = check_restore(
                    target, os.path.join(data, "files-v2"), os.path.join(logs, "restore"))
                log(f"{name}: restore check: {res['restore_check']}")
            # Kept until the end of the run: deleting it here would slow
            # the next tool's restore (see SETTLE_AFTER_DELETE_S).
    res["cache_bytes"] = du_bytes(home)
    if not args.keep:
        for p in (src, disk):
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
    return res


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def cell_text(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def mib(b):
    return "-" if b is None else f"{b / MIB:.1f}"


def best_peer(tools, key):
    """(name, step) of the fastest peer that completed step `key`."""
    done = [(n, tools[n]["steps"].get(key, {})) for n in PEERS if n in tools]
    done = [(n, s) for n, s in done if s.get("seconds") and not s.get("reason")]
    return min(done, key=lambda x: x[1]["seconds"], default=(None, None))


def render_targets(report):
    """Lifeboat against the fastest peer of each row, every cache mode."""
    L = ["### Targets: Lifeboat against the fastest peer of each row", ""]
    modes = list(report["runs"])
    hdr = ["row", "target"]
    for mode in modes:
        hdr += [f"{mode}: lifeboat s", f"{mode}: fastest peer", f"{mode}: ×", f"{mode}: met"]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "|".join(["---", "---:"] + ["---:", "---", "---:", "---"] * len(modes)) + "|")
    for key, label in TABLE_STEPS:
        if key not in TARGETS:
            continue
        row = [label, f"≥ {TARGETS[key]:g}×"]
        for mode in modes:
            tools = report["runs"][mode]["tools"]
            lb = tools.get("lifeboat", {}).get("steps", {}).get(key, {})
            peer, ps = best_peer(tools, key)
            if not lb.get("seconds") or lb.get("reason") or peer is None:
                row += ["n/a", "n/a", "n/a", "n/a"]
                continue
            x = ps["seconds"] / lb["seconds"]
            row += [f"{lb['seconds']:.2f}", f"{peer} {ps['seconds']:.2f}", f"{x:.2f}",
                    "yes" if x >= TARGETS[key] else "**no**"]
        L.append("| " + " | ".join(row) + " |")
    for what, field, unit in (("peak RSS", "maxrss_kib", "MiB"), ("vault size", "repo_bytes", "MiB")):
        row = [what, "≤ lowest peer"]
        for mode in modes:
            tools = report["runs"][mode]["tools"]
            def worst(n):
                vals = [s.get(field) for k, s in tools[n]["steps"].items()
                        if k in dict(TABLE_STEPS) and s.get(field) and not s.get("reason")
                        and (field == "maxrss_kib" or k not in DISK_STEPS)]
                return max(vals) if vals else None
            lb = worst("lifeboat") if "lifeboat" in tools else None
            peers = [(n, worst(n)) for n in PEERS if n in tools and worst(n)]
            if lb is None or not peers:
                row += ["n/a", "n/a", "n/a", "n/a"]
                continue
            pn, pv = min(peers, key=lambda x: x[1])
            scale = 1024 if field == "maxrss_kib" else MIB
            row += [f"{lb / scale:.1f} {unit}", f"{pn} {pv / scale:.1f} {unit}",
                    f"{pv / lb:.2f}", "yes" if lb <= pv else "**no**"]
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("× = fastest peer's seconds / Lifeboat's (for RSS and size: lowest peer's / "
             "Lifeboat's; ≥ 1 is met). Peak RSS is the highest of the table's steps; vault "
             "size is the file repository after the changed backup (disk steps have their "
             "own repository).")
    L.append("")
    return "\n".join(L)


def render(report):
    m = report["machine"]
    L = []
    title = {"synthetic": "synthetic data set", "os": "real operating-system tree"}
    L.append(f"## Vault store, {title[report['dataset']]}: Lifeboat vs restic, rustic and BorgBackup")
    L.append("")
    L.append(f"Generated by `bench/run.py` on {report['date']}. "
             f"Command: `{report['command']}`")
    L.append("")
    L.append("### Machine")
    L.append("")
    L.append(f"- CPU: {m['cpu_model']}, nproc {m['nproc']}, RAM {m['ram_gib']} GiB")
    L.append(f"- kernel {m['kernel']}, work dir on {report['work_fs']}, "
             f"load average at start {' / '.join(f'{x:.2f}' for x in m['loadavg_start'])}, "
             f"at end {' / '.join(f'{x:.2f}' for x in m['loadavg_end'])}")
    L.append("- page cache: " + "; ".join(
        f"**{mode}** ({r['cache_note']})" for mode, r in report["runs"].items()))
    L.append("")
    L.append("### Data")
    L.append("")
    d = report["data"]
    if report["dataset"] == "synthetic":
        L.append(f"`make-datasets.py --size-mib {report['size_mib']} --seed {SEED}` "
                 f"(`{report['data_dir']}`):")
    else:
        L.append(f"This machine's own system folders (`{report['data_dir']}`): files-v1 = "
                 f"{', '.join(OS_V1)}; files-v2 = files-v1 without "
                 f"{', '.join(OS_V2_REMOVED)}, with {', '.join(OS_V2_ADDED)}. Copied with "
                 "`rsync -aAXR` (owners, modes, ACLs, xattrs, hard links as separate files).")
    L.append("")
    for t in ("files-v1", "files-v2"):
        L.append(f"- {t}: {d[t]['files']} files, {mib(d[t]['bytes'])} MiB")
    for t in ("disk-v1.raw", "disk-v2.raw"):
        if t in d:
            L.append(f"- {t}: ext4 image, {mib(d[t]['apparent_bytes'])} MiB apparent, "
                     f"{mib(d[t]['allocated_bytes'])} MiB allocated (sparse)")
    L.append("")
    L.append("### Tools")
    L.append("")
    first = next(iter(report["runs"].values()))["tools"]
    for n, t in first.items():
        L.append(f"- **{n}** {t['version'] or '(not available: ' + t['exe'] + ')'}: "
                 f"{t['settings']}")
    L.append("")
    L.append(render_targets(report))
    for mode, run in report["runs"].items():
        L.append(f"### Results, {mode} cache")
        L.append("")
        L.append(render_table(run["tools"]))
    L.append(render_method(report))
    return "\n".join(L)


def render_table(tools):
    names = list(tools)
    L = []
    L.append("Seconds = wall clock of the tool's process; RSS = its peak resident "
             "set (MiB); repo = `du -sb` of the repository after the step (MiB). "
             "The two disk rows use a separate repository per tool, freshly "
             "initialised with the same settings and holding only the two image "
             "backups: their repo column is the size of that disk repository alone.")
    L.append("")
    hdr = ["step"]
    for n in names:
        hdr += [f"{n} s", f"{n} RSS", f"{n} repo"]
    ratios = [n for n in PEERS if n in names and "lifeboat" in names]
    hdr += [f"{n} s / lifeboat s" for n in ratios]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "|".join(["---"] + ["---:"] * (len(hdr) - 1)) + "|")
    for key, label in TABLE_STEPS:
        if all(key not in tools[n]["steps"] for n in names):
            continue
        row = [label]
        for n in names:
            s = tools[n]["steps"].get(key, {})
            if s.get("reason"):
                row += ["failed: " + cell_text(s["reason"]), "-", "-"]
            else:
                sec = f"{s['seconds']:.2f}" + (" (warn)" if s.get("warning") else "")
                row += [sec, f"{s['maxrss_kib'] / 1024:.0f}", mib(s.get("repo_bytes"))]
        for n in ratios:
            a = tools[n]["steps"].get(key, {})
            b = tools["lifeboat"]["steps"].get(key, {})
            if a.get("seconds") and b.get("seconds") and not a.get("reason") \
                    and not b.get("reason"):
                row.append(f"{a['seconds'] / b['seconds']:.2f}")
            else:
                row.append("n/a")
        L.append("| " + " | ".join(row) + " |")
    row = ["restore matches files-v2 (`diff -r`)"]
    for n in names:
        row += [cell_text(tools[n]["restore_check"] or "not run"), "", ""]
    row += [""] * len(ratios)
    L.append("| " + " | ".join(row) + " |")
    L.append("")
    opens = [f"{n} {tools[n]['open']['seconds']:.2f} s (`{' '.join(['…'] + tools[n]['open_cmd'][1:])}`)"
             for n in names if tools[n].get("open") and not tools[n]["open"].get("reason")]
    if opens:
        L.append("Fixed cost of every command (open the repository and derive the key, "
                 "no data; this cache mode): " + ", ".join(opens) + ". It is included in "
                 "every row above, so small data sets mostly measure it.")
        L.append("")
    warns = [(n, w) for n in names for w in tools[n]["warnings"]]
    if warns:
        L.append("Warnings: " + "; ".join(f"{n}: {w}" for n, w in warns))
        L.append("")
    return "\n".join(L)


def render_method(report):
    L = []
    L.append("### Method")
    L.append("")
    L.append(
        "- All tools run one after the other in the same invocation, on the same data, "
        "with the same absolute input paths. Each tool gets a fresh repository and an "
        "isolated `$HOME` (so its cache starts empty); the cache is not counted in the "
        "repo size (it is in `results.json` as `cache_bytes`).")
    L.append(
        f"- The file tree is always backed up from the fixed path `{report['src']}`: "
        "it is made with `rsync -a` from files-v1, then turned into files-v2 with "
        "`rsync -a --delete files-v2/ src/` (mtimes preserved, only changed files "
        "rewritten), so each tool's change detection applies. Copies, rsyncs, `sync`, "
        "cache drops and the restore `diff -r` all happen outside the timed section.")
    L.append(
        f"- Disk images are backed up as a regular file at the fixed path `{report['disk']}`: "
        "`cp --sparse=always disk-v1.raw`, then disk-v2.raw copied over it in place "
        "(same path and inode, new mtime). Every tool therefore reads the whole image "
        "both times (holes read as zeros); no tool is given stdin, which would hide "
        "the file from tools that treat files specially. restic: `restic backup FILE`; "
        "borg: `borg create ... FILE` (a regular file, so `--read-special` is not "
        f"needed{report['borg_disk_note']}); lifeboat: `store backup --disk FILE`.")
    L.append(
        "- Each tool backs the two images up into a second repository of its own, "
        "freshly initialised with the same command and settings as the main one "
        "(the init is timed in `results.json` as `disk_init`, not shown in the table), "
        "so the disk rows' repo column is the size of that disk repository alone. The "
        "image is an ext4 file system holding the files of files-v1: backed up into "
        "the file repository, it would deduplicate against the file backups with a "
        "content-defined chunker (restic, borg), hardly at all with fixed-offset chunks "
        "(lifeboat `--disk`). That cross-dedup is artificial (a VM image is rarely "
        "backed up next to copies of its own files) and made the repo size after the "
        "disk steps a mix of both data sets. Runs before this change (RESULTS.md "
        "without this note) used the file repository for the images.")
    L.append(
        "- restore: restic `restore latest --path SRC --target DIR`; rustic `restore "
        "latest:SRC DIR`; borg `extract ::files-3` in DIR; lifeboat `store restore latest "
        "--target DIR`. verify: restic `check --read-data`; rustic `check --read-data`; "
        "borg `check --verify-data`; lifeboat `store verify --read-data`.")
    L.append(
        "- Peak RSS is GNU time's `%M` for the tool's process (`/usr/bin/time` forks a "
        "fresh child, so the floor is its ~1-2 MiB; `wait4` of a child spawned straight "
        "from Python would report at least the harness's own ~20 MiB, because Linux keeps "
        "max RSS across `exec`). The time of a `sync` right after each step is in "
        "`results.json` (`sync_after_s`), as are user/sys CPU seconds and logs paths.")
    if "cold" in report["runs"]:
        L.append("- Cold cache: `sync; echo 3 > /proc/sys/vm/drop_caches` before every step.")
    if "warm" in report["runs"]:
        L.append("- Warm cache: before every step the step's input and the repository "
                 "are read once, for every tool alike.")
    L.append(f"- Every restore starts at least {SETTLE_AFTER_DELETE_S} s after the harness "
             "last deleted many files, and restored trees are kept until the run ends: "
             "ext4 without a journal (this machine's root) skips inodes freed in the last "
             "60 s when it allocates new ones, which made a restore right after a deletion "
             "several times slower in sys time, for every tool.")
    L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024,
                    help="data set size (default 1024; try 64 first)")
    ap.add_argument("--tools", default="lifeboat,restic,rustic,borg",
                    help="comma list of lifeboat,restic,rustic,borg (default all)")
    ap.add_argument("--dataset", choices=["synthetic", "os"], default="synthetic",
                    help="synthetic: make-datasets.py (default); os: this machine's "
                         "system folders, copied by this script")
    ap.add_argument("--lifeboat", default=os.path.join(REPO_ROOT, "target", "release", "lifeboat"),
                    help="lifeboat binary (default target/release/lifeboat)")
    ap.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"),
                    help="Markdown output; results.json goes next to it")
    ap.add_argument("--data", default=os.path.join(BENCH, "data"),
                    help="data root; the set lives in DATA/mib-N (default bench/data)")
    ap.add_argument("--work", default=os.path.join(BENCH, "work"),
                    help="work dir for repos, src, disk.raw (default bench/work)")
    ap.add_argument("--cache", choices=["auto", "cold", "warm", "both", "none"],
                    default="auto",
                    help="cold: drop page cache before each step; warm: pre-read "
                         "inputs and repository; both: cold, then warm; auto: cold "
                         "if drop_caches works, else warm")
    ap.add_argument("--borg-disk-chunker", default="",
                    help="e.g. 'fixed,4194304' to give borg a fixed chunker for the "
                         "image (default: borg's default buzhash)")
    ap.add_argument("--timeout", type=int, default=7200, help="per step, seconds")
    ap.add_argument("--settle", type=int, default=SETTLE_AFTER_DELETE_S,
                    help="seconds between deleting many files and a restore "
                         f"(default {SETTLE_AFTER_DELETE_S}; 0 for a quick smoke run)")
    ap.add_argument("--keep", action="store_true",
                    help="keep src/, disk.raw and restored trees after the run")
    args = ap.parse_args()

    _settle_s[0] = args.settle
    names = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in names if t not in TOOLS]
    if bad:
        ap.error(f"unknown tool(s): {', '.join(bad)}")
    for need in ("rsync", "du", "diff", "cp", "mke2fs"):
        if not shutil.which(need):
            sys.exit(f"{need} is needed (apt-get install -y rsync e2fsprogs diffutils)")
    if os.geteuid() != 0 and args.cache in ("auto", "cold"):
        log("not root: drop_caches will not work")

    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    if args.dataset == "synthetic":
        data = ensure_data(os.path.abspath(args.data), args.size_mib)
    else:
        data = ensure_os_data(os.path.abspath(args.data))

    modes = []
    wanted = ["cold", "warm"] if args.cache == "both" else [args.cache]
    for want in wanted:
        if want in ("auto", "cold"):
            ok, note = drop_caches_effective()
            if ok:
                modes.append(("cold", note))
            elif want == "cold":
                sys.exit(f"--cache cold requested but {note}")
            else:
                modes.append(("warm", note + "; fell back to a warm-cache run for all tools"))
        elif want == "warm":
            modes.append(("warm", "input and repository read before every step"))
        else:
            modes.append(("none", "no cache control (first steps may be cold, later warm)"))

    machine = machine_info()
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python3 bench/run.py " + " ".join(sys.argv[1:]),
        "machine": machine, "work_fs": fs_of(args.work), "dataset": args.dataset,
        "size_mib": args.size_mib, "data_dir": data, "data": data_info(data),
        "src": os.path.join(args.work, "src"), "disk": os.path.join(args.work, "disk.raw"),
        "borg_disk_note": (f"; image chunked with `--chunker-params {args.borg_disk_chunker}`"
                           if args.borg_disk_chunker else
                           "; default buzhash chunker, as for files"),
        "runs": {},
    }
    for cache_mode, cache_note in modes:
        log(f"page cache mode: {cache_mode} ({cache_note})")
        run = {"cache_note": cache_note, "tools": {}}
        for n in names:
            exe = args.lifeboat if n == "lifeboat" else (shutil.which(n) or n)
            tool = TOOLS[n](os.path.abspath(exe) if n == "lifeboat" else exe)
            try:
                r = bench_tool(tool, data, args.work, args, cache_mode)
            except Exception as e:  # noqa: BLE001 - a table must come out anyway
                log(f"{n}: harness error: {e!r}")
                r = {"version": None, "restore_check": None, "warnings": [],
                     "steps": {k: {"reason": f"harness error: {e}"} for k, _ in STEPS}}
            r["settings"] = tool.settings
            r["open_cmd"] = tool.open_argv()
            r["exe"] = tool.exe
            run["tools"][n] = r
        report["runs"][cache_mode] = run
    machine["loadavg_end"] = os.getloadavg()
    # Only now: deleting one mode's restored trees before the next mode ran
    # slowed its first restore even 65 s later (SETTLE_AFTER_DELETE_S).
    if not args.keep:
        for cache_mode, _ in modes:
            shutil.rmtree(os.path.join(args.work, cache_mode), ignore_errors=True)

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    write_section(out, render(report), args.dataset)
    jpath = os.path.join(os.path.dirname(out), f"results-{args.dataset}.json")
    with open(jpath, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    log(f"wrote {out} and {jpath}")


def write_section(path, text, dataset):
    """Replace this script's section for `dataset` in RESULTS.md, keeping the
    rest (the other data set's section, other benchmarks' sections and
    hand-written analysis)."""
    BEGIN = (f"<!-- bench/run.py {dataset}: begin "
             "(generated; text outside these markers is kept) -->")
    END = f"<!-- bench/run.py {dataset}: end -->"
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    block = f"{BEGIN}\n{text.rstrip()}\n{END}\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        new = head + block + ("\n" + tail if tail else "")
    else:
        new = block + ("\n" + old if old else "")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
