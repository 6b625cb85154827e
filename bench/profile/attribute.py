#!/usr/bin/env python3
"""Attribute perf samples (perf script -F comm,ip,dso) of a Rust binary whose symbols perf cannot resolve.
usage: attr.py BINARY PERF_DATA [ADJUST]"""
import bisect, collections, subprocess, sys
binary, data = sys.argv[1], sys.argv[2]
adjust = int(sys.argv[3], 0) if len(sys.argv) > 3 else 0
syms = []
for line in subprocess.run(["nm", "-C", "--defined-only", binary], capture_output=True, text=True).stdout.splitlines():
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[1] in "tTwW":
        syms.append((int(parts[0], 16), parts[2]))
syms.sort()
addrs = [a for a, _ in syms]
def name(ip):
    i = bisect.bisect_right(addrs, ip + adjust) - 1
    return syms[i][1] if i >= 0 else "?"
out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym,dso"], capture_output=True, text=True).stdout
samples = []
cur = None
for line in out.splitlines():
    if not line.strip():
        if cur: samples.append(cur)
        cur = None
        continue
    if not line.startswith("\t") and not line.startswith(" "):
        cur = {"comm": line.strip(), "frames": []}
        continue
    s = line.strip()
    ip, rest = s.split(" ", 1)
    sym, _, dso = rest.rpartition(" (")
    dso = dso.rstrip(")")
    if dso.endswith("/pgcdc"):
        sym = name(int(ip, 16))
    cur["frames"].append((sym, dso.rsplit("/", 1)[-1]))
if cur: samples.append(cur)
n = len(samples)
print(f"samples: {n}")
def short(s):
    return s[:140]
selfc = collections.Counter(short(f["frames"][0][0]) if f["frames"] else "?" for f in samples)
print("\n== self (leaf) top 45 ==")
for s, c in selfc.most_common(45): print(f"{100*c/n:6.2f}%  {s}")
incl = collections.Counter()
for f in samples:
    seen = set(short(x[0]) for x in f["frames"])
    for s in seen: incl[s] += 1
print("\n== inclusive top 80 ==")
for s, c in incl.most_common(80): print(f"{100*c/n:6.2f}%  {s}")
comm = collections.Counter(f["comm"] for f in samples)
print("\n== threads ==")
for s, c in comm.most_common(): print(f"{100*c/n:6.2f}%  {s}")
