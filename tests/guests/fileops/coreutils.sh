# The file tools a student reaches for first, as busybox implements them: each step prints
# what `stat` and `ls` then show. Run in an empty directory on a tmpfs (the cwd), as root.
set -e
show() { stat -c '%n %A %h %s %u:%g %F' "$@"; }
echo hello > a
mv a b && show b
ln b c && show b c
ln -s b d && show d && readlink d
ln -sf c d && readlink d
mkdir -p dir/sub && mv b dir/ && show dir/b dir
chmod 0600 dir/b && chmod u+x,g+r dir/b && show dir/b
chmod -R go-rwx dir && show dir dir/sub
chown 123:456 dir/b && show dir/b
touch -d '2001-09-09 01:46:40' c && stat -c '%n %Y %X' c
touch -r c dir/sub && stat -c '%n %Y' dir/sub
truncate -s 3 c && cat c && echo && show c
cp c e && show e && cat e && echo
cp -p c f && stat -c '%n %a %u:%g' f
[ "$(stat -c %Y f)" = "$(stat -c %Y c)" ] && echo "cp -p kept the time"
sync && echo synced
mv dir/sub newsub && ls -1 && ls -1 dir
rm -r dir newsub && rm c d e f && ls -a
if mv nothere x 2>/dev/null; then echo "mv: moved?"; else echo "mv: no such file ($?)"; fi
id -u && id -g
stat -f -c '%T' . >/dev/null && echo "statfs ok"
