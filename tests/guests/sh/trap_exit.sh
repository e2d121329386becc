# trap: EXIT runs when the shell ends and sees the exit status; a signal trap runs when the
# signal arrives (here sent by the shell to itself).
trap 'echo "EXIT trap: status $?"' EXIT
(trap 'echo "subshell EXIT trap"' EXIT; echo "in the subshell")
trap 'echo "got USR1"' USR1
kill -USR1 $$
echo "after USR1"
trap - USR1
trap '' USR2
kill -USR2 $$
echo "USR2 ignored"
echo working
exit 4
