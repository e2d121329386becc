# Redirections into a fresh directory under /tmp: >, >>, <, 2>&1, 2>/dev/null, <>.
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
echo first > "$d/f"
echo second >> "$d/f"
echo third >> "$d/f"
wc -l < "$d/f"
sort -r < "$d/f"
sh -c 'echo to stdout; echo to stderr >&2' > "$d/both" 2>&1
sort "$d/both"
sh -c 'echo kept; echo dropped >&2' 2>/dev/null
ls "$d/missing" > "$d/out" 2> "$d/err"
echo "ls status $?, stdout bytes $(wc -c < "$d/out"), stderr lines $(wc -l < "$d/err")"
echo replaced > "$d/f"
cat "$d/f"
{ echo grouped one; echo grouped two; } > "$d/g"
cat "$d/g"
cat < "$d/g" > "$d/copy"
cmp "$d/g" "$d/copy" && echo "copy identical"
