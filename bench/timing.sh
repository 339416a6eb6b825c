# Sourced by the show benchmarks (needs $work, a scratch directory).
#
# median N CMD...: runs CMD N times in the current directory and prints the
# median wall time in seconds, or "failed" (its first error line goes to
# stderr). The last run's stdout is left in $work/out.
median() {
  n=$1; shift
  : > "$work/times"
  i=0
  while [ "$i" -lt "$n" ]; do
    start=$(date +%s%N)
    if ! "$@" > "$work/out" 2> "$work/err"; then
      echo "failed: $(head -n 1 "$work/err")" >&2
      echo failed
      return
    fi
    end=$(date +%s%N)
    echo $(((end - start) / 1000)) >> "$work/times"
    i=$((i + 1))
  done
  sort -n "$work/times" | awk '{ t[NR] = $1 } END { printf "%.3f", t[int((NR + 1) / 2)] / 1e6 }'
}

# ratio PEER FORGE: PEER / FORGE as "76×", or "—" when either did not run.
ratio() {
  awk -v b="$1" -v f="$2" 'BEGIN { if (b ~ /^[0-9.]+$/ && f ~ /^[0-9.]+$/ && f > 0) printf "%.0f×", b / f; else print "—" }'
}
