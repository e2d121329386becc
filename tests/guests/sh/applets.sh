# Assorted applets as separate processes: each command below is a fork and an exec.
seq 1 100 | awk '{ s += $1 } END { print "sum", s }'
echo one two three | xargs -n 1 echo word
printf 'b\na\nc\na\n' | sort | uniq -c | sed 's/^ *//'
echo "cut: $(echo a:b:c | cut -d: -f2)"
echo "expr: $(expr 6 \* 7)"
basename /a/b/c.txt .txt
dirname /a/b/c.txt
h=hello; echo "length of $h: ${#h}"
env -i A=1 B=2 env | sort
case "$(uname -s)" in
    Linux) echo "uname: Linux" ;;
    *) echo "uname: something else" ;;
esac
