# $(...) and `...`: the shell reads a child's stdout through a pipe.
upper=$(echo hello | tr a-z A-Z)
echo "upper=$upper"
lines=$(printf 'a\nb\nc\n' | wc -l)
echo "lines=$lines doubled=$((lines * 2))"
nested=$(echo "outer $(echo inner $(echo innermost))")
echo "$nested"
old=`echo backticks`
echo "$old"
trailing=$(printf 'x\n\n\n')
echo "[$trailing]"
$(exit 4)
echo "status of \$(exit 4): $?"
count=0
for word in $(echo one two three); do
    count=$((count + 1))
done
echo "words=$count"
