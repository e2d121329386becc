# ( ... ) runs in a forked copy of the shell: its variables, cwd and exit stay inside.
x=outer
(x=inner; echo "inside: $x")
echo "outside: $x"
start=$(pwd)
(cd / && echo "subshell cwd: $(pwd)")
[ "$(pwd)" = "$start" ] && echo "cwd unchanged after the subshell"
(exit 3)
echo "subshell status: $?"
(echo nested; (echo deeper; (echo deepest)))
{ echo group one; echo group two; } | wc -l
(echo in the subshell; exit 9) | cat
echo "pipeline of a failing subshell: $?"
y=$( (echo from; echo both) | tr '\n' ' ')
echo "$y"
(false)
exit $?
