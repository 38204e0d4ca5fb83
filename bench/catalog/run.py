#!/usr/bin/env python3
"""The catalog benchmark (issue 4, "Scale and speed"): a catalog with 100
vaults, 10,000 protected items and 1,000,000 recovery points, on SQLite and
on PostgreSQL. For each:

1. seed it (crates/catalog/examples/seed_scale.rs);
2. time the scheduler planning one day for every item
   (crates/service/examples/plan_day.rs);
3. start the real release `lifeboat server` on it and load two list
   endpoints with wrk (200 connections, 2 threads, --latency):
   (a) a vault's items, `?limit=100`, over every vault;
   (b) an item's points, `?limit=100`: half first pages over every item,
       half second pages through cursors taken from real first pages;
4. read the server's peak RSS (VmHWM) at the end.

Writes bench/catalog/results.json (raw) and this benchmark's section of
bench/RESULTS.md (between its markers; the rest of the file is kept).

Needs: cargo, wrk (Debian: apt-get install wrk), psql and a PostgreSQL at
127.0.0.1:5432 user postgres (or LIFEBOAT_TEST_POSTGRES) for the postgres
run. Standard library only.
"""

import argparse
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(ROOT, "bench", "work", "catalog")
RESULTS_MD = os.path.join(ROOT, "bench", "RESULTS.md")
RESULTS_JSON = os.path.join(HERE, "results.json")
BEGIN = "<!-- bench/catalog: begin -->"
END = "<!-- bench/catalog: end -->"
RELEASE = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release")
SEED = os.path.join(RELEASE, "examples", "seed_scale")
PLAN = os.path.join(RELEASE, "examples", "plan_day")
LIFEBOAT = os.path.join(RELEASE, "lifeboat")
PG_DB = "lifeboat_bench"

TARGET_PLAN_S = 1.0
TARGET_P99_MS = 50.0
TARGET_RSS_MIB = 200.0


def log(msg):
    print(f"[catalog-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


def run_json(cmd):
    out = run(cmd, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------ build


def has_server(binary):
    if not os.path.exists(binary):
        return False
    r = subprocess.run([binary, "server", "--help"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return r.returncode == 0


def build(force):
    run(["cargo", "build", "--release", "-p", "lifeboat-catalog", "--example", "seed_scale"], cwd=ROOT)
    run(["cargo", "build", "--release", "-p", "lifeboat-service", "--example", "plan_day"], cwd=ROOT)
    if force or not has_server(LIFEBOAT):
        run(["cargo", "build", "--release", "-p", "lifeboat-cli"], cwd=ROOT)
    if not has_server(LIFEBOAT):
        sys.exit(f"{LIFEBOAT} has no `server` command: is lifeboat-server wired into the CLI yet?")


# ---------------------------------------------------------------- machine


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    def git(*a):
        r = subprocess.run(["git", *a], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        return r.stdout.strip()
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memGiB": round(mem_kib / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + ("+uncommitted changes" if dirty else ""),
    }


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def machine_cpu():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(v) - idle) / hz, sum(v) / hz


# --------------------------------------------------------------- postgres


def pg_base():
    return os.environ.get("LIFEBOAT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")


def pg_url(db):
    u = urllib.parse.urlsplit(pg_base())
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + db, u.query, ""))


def psql(sql):
    run(["psql", pg_base(), "-v", "ON_ERROR_STOP=1", "-qc", sql],
        stdout=subprocess.DEVNULL)


# ----------------------------------------------------------------- server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(base, path, token=None, timeout=30):
    req = urllib.request.Request(base + path)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read() or b"null")


class Server:
    def __init__(self, catalog_url, data_dir, token, log_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, LIFEBOAT_ADMIN_TOKEN=token)
        env.pop("RUST_LOG", None)
        self.log = open(log_path, "w")
        cmd = [LIFEBOAT, "server", "--data", data_dir, "--catalog", catalog_url,
               "--listen", f"127.0.0.1:{self.port}", "--log-level", "warn"]
        log("$ " + " ".join(cmd))
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {log_path}")
            try:
                status, _ = http_get(self.base, "/healthz", timeout=2)
                if status == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz in 120 s; see {log_path}")

    def memory(self):
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    out[k] = round(int(v.split()[0]) / 1024, 1)
        return out

    def cpu_seconds(self):
        """User + system CPU time of the server process (all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# -------------------------------------------------------------------- wrk

LUA = r"""
-- Generated by bench/catalog/run.py.
wrk.headers["Authorization"] = "Bearer %(token)s"
local mode = "%(mode)s"
local vaults = %(vaults)d
local items = %(items)d
local cursors = { %(cursors)s }
local n = 0

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  n = n + 1
  local v = math.random(0, vaults - 1)
  if mode == "items" then
    return wrk.format("GET", string.format("/api/v1/vaults/bench-%%03d/items?limit=100", v))
  end
  if n %% 2 == 0 and #cursors > 0 then
    return wrk.format("GET", cursors[math.random(1, #cursors)])
  end
  local i = math.random(0, items - 1)
  return wrk.format("GET",
    string.format("/api/v1/vaults/bench-%%03d/items/item-%%03d/points?limit=100", v, i))
end
"""


def to_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    if not m:
        return None
    v = float(m.group(1))
    return v * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def parse_wrk(text):
    out = {"latencyMs": {}}
    in_dist = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("Latency Distribution"):
            in_dist = True
            continue
        if in_dist:
            m = re.match(r"(\d+)%\s+(\S+)$", s)
            if m:
                out["latencyMs"]["p" + m.group(1)] = to_ms(m.group(2))
                continue
            in_dist = False
        m = re.match(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", s)
        if m and "mean" not in out:
            out["mean"] = to_ms(m.group(1))
            out["max"] = to_ms(m.group(3))
        m = re.match(r"(\d+) requests in ([\d.]+)(\w+)", s)
        if m:
            out["requests"] = int(m.group(1))
        m = re.match(r"Requests/sec:\s+([\d.]+)", s)
        if m:
            out["requestsPerSec"] = float(m.group(1))
        m = re.match(r"Non-2xx or 3xx responses:\s+(\d+)", s)
        if m:
            out["non2xx"] = int(m.group(1))
        m = re.match(r"Socket errors:\s+connect (\d+), read (\d+), write (\d+), timeout (\d+)", s)
        if m:
            out["socketErrors"] = {k: int(v) for k, v in
                                   zip(("connect", "read", "write", "timeout"), m.groups())}
    out.setdefault("non2xx", 0)
    out["p50"] = out["latencyMs"].get("p50")
    out["p99"] = out["latencyMs"].get("p99")
    return out


def run_wrk(server, token, mode, cursors, args, tag, connections=None, duration=None):
    connections = connections or args.connections
    duration = duration or args.duration
    lua = LUA % {
        "token": token, "mode": mode, "vaults": args.vaults, "items": args.items_per_vault,
        "cursors": ", ".join(json.dumps(c) for c in cursors),
    }
    script = os.path.join(WORK, f"{tag}-{mode}.lua")
    with open(script, "w") as f:
        f.write(lua)
    before = loadavg()
    cpu0, (busy0, total0) = server.cpu_seconds(), machine_cpu()
    cmd = ["wrk", "-t", str(min(args.threads, connections)), "-c", str(connections),
           "-d", f"{duration}s", "--timeout", "10s", "--latency", "-s", script, server.base]
    text = run(cmd, stdout=subprocess.PIPE, text=True).stdout
    cpu1, (busy1, total1) = server.cpu_seconds(), machine_cpu()
    r = parse_wrk(text)
    r["connections"] = connections
    r["loadavgBefore"] = before
    r["loadavgAfter"] = loadavg()
    # Where the CPU went: the server's own share of the machine's busy time
    # (the rest is wrk, the database server and anything else running).
    r["serverCpuSeconds"] = round(cpu1 - cpu0, 2)
    r["machineBusyCpuSeconds"] = round(busy1 - busy0, 2)
    r["machineCpuSeconds"] = round(total1 - total0, 2)
    if r.get("requests"):
        r["serverCpuMsPerRequest"] = round((cpu1 - cpu0) * 1000 / r["requests"], 3)
    r["raw"] = text
    log(f"{tag} {mode} c={connections}: p50 {r['p50']} ms, p99 {r['p99']} ms, "
        f"{r.get('requestsPerSec')} req/s, non-2xx {r['non2xx']}, "
        f"server CPU {r.get('serverCpuMsPerRequest')} ms/request, machine busy "
        f"{r['machineBusyCpuSeconds']}/{r['machineCpuSeconds']} CPU-s")
    return r


def sample_cursors(server, token, args, n):
    """Second-page links of n items, from real first pages."""
    out = []
    for k in range(n):
        v = (k * 37) % args.vaults
        i = (k * 53) % args.items_per_vault
        path = f"/api/v1/vaults/bench-{v:03d}/items/item-{i:03d}/points?limit=100"
        status, body = http_get(server.base, path.replace("limit=100", "limit=50"), token)
        link = body.get("nextLink")
        if status != 200 or not link:
            raise RuntimeError(f"GET {path}: no nextLink in {str(body)[:200]}")
        out.append(link.replace("limit=50", "limit=100"))
    return out


def check_api(server, token, args):
    """The endpoints answer what the load test assumes."""
    status, body = http_get(server.base, "/api/v1/vaults/bench-000/items?limit=100", token)
    n = len(body.get("value", []))
    if status != 200 or n != min(100, args.items_per_vault):
        raise RuntimeError(f"item list: status {status}, {n} items")
    status, body = http_get(server.base,
                            "/api/v1/vaults/bench-000/items/item-002/points?limit=100", token)
    n = len(body.get("value", []))
    if status != 200 or n != min(100, args.points_per_item):
        raise RuntimeError(f"point list: status {status}, {n} points")
    return body["value"][0]


# ------------------------------------------------------------------- main


def bench_backend(backend, args, token):
    tag = backend
    res = {"backend": backend}
    if backend == "sqlite":
        d = os.path.join(WORK, "sqlite")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        url = f"sqlite://{os.path.join(d, 'catalog.db')}?mode=rwc"
    else:
        d = os.path.join(WORK, "postgres")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        psql(f"DROP DATABASE IF EXISTS {PG_DB}")
        psql(f"CREATE DATABASE {PG_DB}")
        url = pg_url(PG_DB)
    server = None
    try:
        res["loadavgBeforeSeed"] = loadavg()
        res["seed"] = run_json([SEED, url, "--vaults", str(args.vaults),
                                "--items-per-vault", str(args.items_per_vault),
                                "--points-per-item", str(args.points_per_item)])
        log(f"{tag}: seeded in {res['seed']['seconds']:.1f} s")
        if backend == "sqlite":
            size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
            res["catalogMiB"] = round(size / 2**20, 1)
        res["loadavgBeforePlan"] = loadavg()
        plan = run_json([PLAN, url, "--from", res["seed"]["now"]])
        res["plan"] = plan
        log(f"{tag}: planned {plan['jobsEnqueued']} jobs in {plan['seconds']:.3f} s")
        server = Server(url, os.path.join(d, "data"), token, os.path.join(d, "server.log"))
        res["samplePoint"] = check_api(server, token, args)
        cursors = sample_cursors(server, token, args, min(1000, args.vaults * args.items_per_vault))
        res["wrk"] = {
            "items": run_wrk(server, token, "items", [], args, tag),
            "points": run_wrk(server, token, "points", cursors, args, tag),
        }
        # The same requests with few connections: the latency of a request
        # that does not queue behind 199 others.
        if args.probe_connections:
            res["probe"] = {
                mode: run_wrk(server, token, mode, cursors if mode == "points" else [], args,
                              tag + "-probe", args.probe_connections, args.probe_duration)
                for mode in ("items", "points")
            }
        res["memoryMiB"] = server.memory()
        log(f"{tag}: server VmHWM {res['memoryMiB'].get('VmHWM')} MiB")
    finally:
        if server:
            server.stop()
        if backend == "postgres" and not args.keep:
            try:
                psql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            except subprocess.CalledProcessError as e:
                log(f"could not drop {PG_DB}: {e}")
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return res


def verdict(ok):
    return "met" if ok else "**missed**"


def fmt(v, digits=1):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def biggest_step(plan):
    steps = plan.get("steps") or []
    if not steps:
        return ""
    s = max(steps, key=lambda s: s["queued"])
    return (f"; the busiest instant, {s['at']}, queued {s['queued']:,} jobs in "
            f"{s['seconds']:.2f} s")


def analysis(report):
    """Sentences computed from the figures: what bounds each one."""
    out = []
    for r in report["runs"]:
        b = r["backend"]
        p = r["plan"]
        if p["jobsEnqueued"]:
            out.append(
                f"- {b}, planning: {p['jobsEnqueued']:,} jobs in {p['seconds']:.2f} s is "
                f"{p['seconds'] * 1000 / p['jobsEnqueued']:.2f} ms per job over "
                f"{p['scheduledInstants']} due instants (at most {p['overheadBoundSeconds']:.3f} s "
                "of that is the harness's tick and poll)" + biggest_step(p) + ".")
        for key in ("items", "points"):
            w = r["wrk"][key]
            rps = w.get("requestsPerSec") or 0
            if not rps:
                continue
            line = (f"- {b}, {key}: {w['connections']} connections at {rps:,.0f} requests/s "
                    f"spend {w['connections'] * 1000 / rps:.0f} ms each in the system on "
                    f"average (Little's law); the server used "
                    f"{w.get('serverCpuMsPerRequest', 0):.2f} ms of CPU per request and the "
                    f"machine was busy {w['machineBusyCpuSeconds']:.0f} of "
                    f"{w['machineCpuSeconds']:.0f} CPU-seconds")
            pr = r.get("probe", {}).get(key)
            if pr:
                line += (f"; with {pr['connections']} connections p50/p99 are "
                         f"{fmt(pr['p50'], 2)}/{fmt(pr['p99'], 2)} ms")
            out.append(line + ".")
    return out


def render(report):
    m = report["machine"]
    a = report["args"]
    lines = [
        "## Catalog at scale: scheduling and list latency",
        "",
        "`python3 bench/catalog/run.py` (see `bench/catalog/README.md`): a catalog of "
        f"{a['vaults']} vaults, {a['vaults'] * a['items_per_vault']:,} protected items and "
        f"{a['vaults'] * a['items_per_vault'] * a['points_per_item']:,} recovery points; "
        "the release `lifeboat server` loaded by "
        f"`wrk -t{a['threads']} -c{a['connections']} -d{a['duration']}s --latency` on loopback, "
        "one endpoint at a time.",
        "",
        f"Machine: {m['cpu']}, {m['nproc']} CPUs, {m['memGiB']} GiB RAM, Linux {m['kernel']}; "
        f"{m['date']}, commit {m['commit']}. wrk runs on the same 2 CPUs as the server and "
        "the database.",
        "",
        "| | " + " | ".join(r["backend"] for r in report["runs"]) + " | target |",
        "|---|" + "---:|" * len(report["runs"]) + "---|",
    ]

    def row(label, cells, target=""):
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")

    runs = report["runs"]
    row("seeding (vaults, items, points)", [f"{fmt(r['seed']['seconds'])} s" for r in runs])
    row("plan one day: seconds", [f"{fmt(r['plan']['seconds'], 2)} s ({verdict(r['plan']['seconds'] < TARGET_PLAN_S)})" for r in runs], "< 1 s")
    row("plan one day: jobs queued (expected)",
        [f"{r['plan']['jobsEnqueued']:,} ({r['plan']['expectedSlots']:,})" for r in runs])
    for key, label in (("items", "list items of a vault"), ("points", "list points of an item")):
        row(f"{label}: p50", [f"{fmt(r['wrk'][key]['p50'], 2)} ms" for r in runs])
        row(f"{label}: p99",
            [f"{fmt(r['wrk'][key]['p99'], 2)} ms ({verdict((r['wrk'][key]['p99'] or 1e9) < TARGET_P99_MS)})" for r in runs],
            "< 50 ms")
        row(f"{label}: requests/s", [fmt(r['wrk'][key].get('requestsPerSec'), 0) for r in runs])
        row(f"{label}: non-2xx / socket errors",
            [f"{r['wrk'][key]['non2xx']} / {sum(r['wrk'][key].get('socketErrors', {}).values())}" for r in runs])
        row(f"{label}: server CPU per request",
            [f"{fmt(r['wrk'][key].get('serverCpuMsPerRequest'), 2)} ms" for r in runs])
        if all("probe" in r for r in runs):
            c = runs[0]["probe"][key]["connections"]
            row(f"{label}: p50 / p99 with {c} connections",
                [f"{fmt(r['probe'][key]['p50'], 2)} / {fmt(r['probe'][key]['p99'], 2)} ms" for r in runs])
    row("server peak RSS (VmHWM)",
        [f"{fmt(r['memoryMiB'].get('VmHWM'))} MiB ({verdict(r['memoryMiB'].get('VmHWM', 1e9) < TARGET_RSS_MIB)})" for r in runs],
        "< 200 MiB")
    row("load average before plan / after wrk",
        [f"{r['loadavgBeforePlan'][0]} / {r['wrk']['points']['loadavgAfter'][0]}" for r in runs])
    lines.append("")
    lines.extend(analysis(report))
    lines.append("")
    lines.append("Raw figures: `bench/catalog/results.json`.")
    if report.get("note"):
        lines += ["", report["note"].strip()]
    return "\n".join(lines).rstrip() + "\n"


def write_section(path, text):
    """Replace this benchmark's section of RESULTS.md (appended at the end
    the first time), keeping everything else."""
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
        new = old.rstrip("\n") + "\n\n" + block if old else block
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--vaults", type=int, default=100)
    p.add_argument("--items-per-vault", type=int, default=100)
    p.add_argument("--points-per-item", type=int, default=100)
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--duration", type=int, default=20, help="seconds of wrk per endpoint")
    p.add_argument("--probe-connections", type=int, default=4,
                   help="also run each endpoint with this few connections (0: skip)")
    p.add_argument("--probe-duration", type=int, default=5)
    p.add_argument("--build", action="store_true", help="rebuild the lifeboat binary too")
    p.add_argument("--keep", action="store_true", help="keep the catalogs (bench/work/catalog, the database)")
    p.add_argument("--no-write", action="store_true", help="do not write RESULTS.md / results.json")
    p.add_argument("--note", default="", help="text (Markdown) added under the table")
    p.add_argument("--note-file", help="read --note from this file")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite the RESULTS.md section from results.json, measure nothing")
    args = p.parse_args()
    if args.note_file:
        with open(args.note_file) as f:
            args.note = f.read()
    if args.render_only:
        with open(RESULTS_JSON) as f:
            report = json.load(f)
        if args.note:
            report["note"] = args.note
            with open(RESULTS_JSON, "w") as f:
                json.dump(report, f, indent=2)
                f.write("\n")
        text = render(report)
        print(text)
        write_section(RESULTS_MD, text)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("sqlite", "postgres"):
            sys.exit(f"unknown backend {b!r}")
    if "postgres" in backends and shutil.which("psql") is None:
        sys.exit("psql is needed to create the postgres database")
    build(args.build)
    os.makedirs(WORK, exist_ok=True)
    token = secrets.token_hex(32)
    report = {"machine": machine(), "args": vars(args), "runs": [], "note": args.note,
              "targets": {"planSeconds": TARGET_PLAN_S, "p99Ms": TARGET_P99_MS,
                          "rssMiB": TARGET_RSS_MIB}}
    for b in backends:
        report["runs"].append(bench_backend(b, args, token))
    text = render(report)
    print(text)
    if not args.no_write:
        with open(RESULTS_JSON, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        write_section(RESULTS_MD, text)
        log(f"wrote {RESULTS_JSON} and the section of {RESULTS_MD}")


if __name__ == "__main__":
    main()
