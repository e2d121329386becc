# Pipelines: each stage a process, joined by pipes; $? is the last stage's status.
echo a b c | tr ' ' '\n' | sort -r | head -2
printf '3\n10\n2\n' | sort -n | tr '\n' ' '
echo
echo hello world | wc -c
seq 1 1000 | grep 7 | wc -l
# head exits early: the writer upstream dies by SIGPIPE, the pipeline still succeeds
seq 1 100000 | head -1
false | true
echo "false | true: $?"
true | false
echo "true | false: $?"
