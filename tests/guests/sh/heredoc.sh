# Here-documents: the shell feeds the text to the command's stdin (busybox sh through a
# pipe, with a child writing when the text is larger than a pipe holds).
name=world
cat <<END
hello $name
literal \$name, $((6 * 7))
END
cat <<'END'
no $expansion here
END
read a b <<END
first second
END
echo "a=$a b=$b"
i=0
big=""
while [ $i -lt 3000 ]; do
    big="$big line-$i
"
    i=$((i + 1))
done
cat <<END | wc -l
$big
END
