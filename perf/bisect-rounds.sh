#!/bin/bash
# perf/bisect-rounds.sh: interleaved rounds of perf/bisect.ts configurations, each round with its own floor run (the host floor swings 3-9 M/s in streaks).
# usage: perf/bisect-rounds.sh ROUNDS "main worker wait" ...   -> per-round runs, then median M/s and median % of the same round's floor
cd "$(dirname "$0")/.."
R=$1; shift
out=$(mktemp); : > $out
for r in $(seq 1 $R); do
  f=$(timeout 60 node dist/perf/bisect.js floor x spin 1 1000000 | sed -n 's/.*median \([0-9.]*\) M.*/\1/p')
  for c in "$@"; do
    v=$(timeout 100 node dist/perf/bisect.js $c 1 1000000 | sed -n 's/.*median \([0-9.]*\) M.*/\1/p')
    echo "$c|$v|$f" >> $out
  done
done
python3 - $out <<'PY'
import sys,statistics as st
rows={}
for l in open(sys.argv[1]):
    c,v,f=l.strip().split('|')
    rows.setdefault(c,[]).append((float(v or 0),float(f or 1)))
for c,xs in rows.items():
    print(f"{c:28s} median {st.median(v for v,_ in xs):5.2f} M/s  {100*st.median(v/f for v,f in xs):4.0f}% of floor   runs "+' '.join(f"{v:.2f}/{f:.2f}" for v,f in xs))
PY
