# $? after failing commands, and how a shell reports each kind of failure.
false
echo "false: $?"
true
echo "true: $?"
ls /nonexistent/path 2>/dev/null
echo "ls of a missing path: $?"
no_such_command_anywhere 2>/dev/null
echo "command not found: $?"
sh -c 'exit 42'
echo "sh -c 'exit 42': $?"
(exit 7)
echo "(exit 7): $?"
! true
echo "! true: $?"
sh -c 'kill -TERM $$'
echo "killed by SIGTERM: $?"
sh -c 'kill -KILL $$'
echo "killed by SIGKILL: $?"
test 1 -gt 2 || echo "|| ran after a failure"
test 2 -gt 1 && echo "&& ran after a success"
grep -q needle /dev/null
exit $?
