# exec: with only redirections it changes this shell's fds; with a command it replaces the
# shell (the rest of the script never runs).
d=$(mktemp -d)
exec 3> "$d/fd3"
echo "through fd 3" >&3
echo "again through fd 3" >&3
exec 3>&-
cat "$d/fd3"
exec 4< "$d/fd3"
read first <&4
echo "read from fd 4: $first"
exec 4<&-
(exec echo "exec in a subshell replaced it"; echo "never printed")
echo "the subshell's status: $?"
rm -rf "$d"
exec sh -c 'echo "a new shell, same process"; exit 6'
echo "never printed either"
