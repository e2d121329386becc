# A while loop reading from a pipe: the loop runs in a subshell of the pipeline, so its
# variables do not survive it; reading from a redirected file keeps them.
printf 'x 1\ny 2\nz 3\n' | while read name value; do
    echo "$name=$((value * 10))"
done
total=0
seq 1 10 | while read n; do
    total=$((total + n))
done
echo "total after the pipe loop: $total"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
seq 1 10 > "$d/numbers"
while read n; do
    total=$((total + n))
done < "$d/numbers"
echo "total after the redirected loop: $total"
seq 1 5 | while read n; do
    [ "$n" -eq 3 ] && break
    echo "before 3: $n"
done
