#!/usr/bin/env bash
# Profiles one bench:ipc cell: a CPU profile (perf, JS frames named through
# V8's perf map) and the syscalls (strace -c) of every process of the cell,
# each in its own run, and prints per process the share of samples by cost
# (page faults, memset/memmove, read/write/futex/epoll syscalls, JS functions).
#
#   bench/profile.sh <system> <scenario> [pinned]
#   bench/profile.sh queue T3          # @mp/queues Queue, 64 KiB items
#   bench/profile.sh py-queue T3       # Python mp.Queue, the same
#   bench/profile.sh queue L1 pinned   # both ends on CPU 0
#
# Needs perf and strace (apt-get install -y linux-perf strace). Writes
# bench/results/profile-<system>-<scenario>.{data,strace.txt}.
set -euo pipefail
cd "$(dirname "$0")/.."
sys=$1 sc=$2 pin=${3:-}
out=bench/results/profile-$sys-$sc${pin:+-pinned}
mkdir -p bench/results
deno=$(command -v deno || echo "npx -y deno@2.9.6")
if [[ $sys == py-* ]]; then
  cmd=(python3 bench/py_mp.py "${sys#py-}" "$sc" 1 full)
  [[ $sys == py-simple ]] && cmd=(python3 bench/py_mp.py simplequeue "$sc" 1 full)
else
  cmd=($deno run -q -A bench/ipc.ts --cell "$sys" "$sc" 1 0)
fi
[[ -n $pin ]] && cmd=(taskset -c 0 "${cmd[@]}")
# V8 writes a /tmp/perf-<pid>.map and an isolate-*-v8.log per process;
# removed once read.
marker=$(mktemp)
trap 'find /tmp -maxdepth 1 -name "perf-*.map" -newer "$marker" -delete
  find . -maxdepth 1 -name "isolate-*-v8.log" -newer "$marker" -delete
  rm -f "$marker"' EXIT
echo "# ${cmd[*]}"
DENO_V8_FLAGS=--perf-basic-prof perf record -q -F 2000 -g -o "$out.data" -- "${cmd[@]}" 2>/dev/null |
  grep '^{' || true
rm -rf "$out.strace" && mkdir -p "$out.strace"
strace -f -ff -qq -o "$out.strace/trace" -- "${cmd[@]}" >/dev/null 2>&1 || true
python3 - "$out.data" <<'EOF'
import collections, re, subprocess, sys
text = subprocess.run(["perf", "script", "-i", sys.argv[1]], capture_output=True, text=True).stdout
per = collections.defaultdict(collections.Counter)
names = {}
for blk in text.split("\n\n"):
    lines = [l.strip() for l in blk.strip().split("\n") if l.strip()]
    if len(lines) < 2:
        continue
    head = lines[0].split()
    comm, pid = head[0], head[1].split("/")[0]
    frames = [re.sub(r"^[0-9a-f]+ ", "", l).split(" (")[0] for l in lines[1:]]
    s = " ".join(frames)
    leaf = frames[0].split("+")[0]
    if "exc_page_fault" in s: cat = "page faults"
    elif "memset" in leaf: cat = "memset (zeroing new buffers)"
    elif "memmove" in leaf or "memcpy" in leaf: cat = "memmove/memcpy"
    elif "ksys_read" in s: cat = "read syscalls (pipe copy)"
    elif "ksys_write" in s: cat = "write syscalls (pipe copy)"
    elif "futex" in s: cat = "futex"
    elif "epoll" in s or "do_sys_poll" in s: cat = "poll/epoll"
    elif "sched_yield" in s or "__schedule" in s: cat = "scheduler"
    elif "entry_SYSCALL" in s: cat = "other syscalls"
    else:
        js = next((f for f in frames if f.startswith("JS:")), None)
        if js:
            m = re.match(r"JS:[*^~+']*(\S+) (\S+?):(\d+)", js)
            cat = "JS " + (f"{m.group(1)} ({m.group(2).split('/')[-1]})" if m else js[:60])
        elif "python" in comm.lower() or "libpython" in s: cat = "python interpreter"
        else: cat = "runtime (V8/Deno, GC, ...)"
    key = pid if not comm.startswith(("V8 ", "tokio")) else pid  # threads: own tid
    per[(pid, comm)][cat] += 1
total = sum(sum(c.values()) for c in per.values())
for (pid, comm), c in sorted(per.items(), key=lambda kv: -sum(kv[1].values()))[:4]:
    n = sum(c.values())
    print(f"\n## thread {pid} ({comm}): {100*n/total:.0f}% of all samples")
    for cat, k in c.most_common(8):
        print(f"  {100*k/n:5.1f}%  {cat}")
EOF
python3 - "$out.strace" <<'EOF'
# Per process (thread group): its threads' system calls, by count.
import collections, os, re, sys
d = sys.argv[1]
calls = collections.defaultdict(collections.Counter)
first = {}
for name in sorted(os.listdir(d), key=lambda n: int(n.split(".")[-1])):
    tid = int(name.split(".")[-1])
    with open(os.path.join(d, name), errors="replace") as f:
        lines = f.readlines()
    # A process's first thread starts with its execve (a forked Python
    # child has none): that names it.
    cmd = next((l for l in lines if l.startswith("execve(")), None)
    first[tid] = cmd
    for l in lines:
        m = re.match(r"(\w+)\(", l)
        if m:
            calls[tid][m.group(1)] += 1
print("\n# strace, per traced thread with more than 1,000 system calls: the top five")
for tid, c in sorted(calls.items(), key=lambda kv: -sum(kv[1].values())):
    n = sum(c.values())
    if n < 1000:
        continue
    top = ", ".join(f"{k} {v}" for k, v in c.most_common(5))
    label = (first[tid] or "").split(",")[0][:60]
    print(f"  {tid} {label}: {n} calls: {top}")
EOF
