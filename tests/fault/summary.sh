#!/bin/sh
# fault.summary: prints the fault suite's counts, per test and in total
# (run by CTest after the fault tests; `reset` empties the file first).
# Fails if any test reported a lost or duplicated task or a stray process,
# or if no test reported at all.
f=${SWARM_FAULT_SUMMARY:?}
if [ "${1:-}" = reset ]; then : >"$f"; exit 0; fi
[ -s "$f" ] || { echo "no fault test reported counts" >&2; exit 1; }
cat "$f"
awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); sum[kv[1]] += kv[2] }
       if (!($1 in seen)) { seen[$1] = 1; tests++ } audits++ }
     END { printf "fault suite: %d tests (%d audited jobs), tasks=%d faults=%d lost=%d duplicated=%d strays=%d\n",
                  tests, audits, sum["tasks"], sum["faults"], sum["lost"], sum["duplicated"], sum["strays"];
           exit (sum["lost"] + sum["duplicated"] + sum["strays"] > 0) }' "$f"
