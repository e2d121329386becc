# & and wait: background jobs write to their own files (their order of running is the
# scheduler's business), wait collects them, and wait PID returns that job's status.
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
(sleep 0.2; echo slow > "$d/a") &
(echo fast > "$d/b") &
(exit 5) &
five=$!
wait "$five"
echo "wait for the job that exits 5: $?"
wait
cat "$d/a" "$d/b"
for i in 1 2 3 4 5; do
    (echo "job $i" > "$d/job$i"; exit "$i") &
done
wait
cat "$d"/job*
sh -c 'kill -TERM $$' &
wait $!
echo "wait for a job killed by SIGTERM: $?"
