#!/usr/bin/env bash
# make demo: a sample X-Road archive directory shipped to a local-directory
# destination twice (the second run has nothing to do), then a look at the result.
set -euo pipefail
BIN=$1 DIR=$2
rm -rf "$DIR"
mkdir -p "$DIR"
echo "== 1. generate a sample /var/lib/xroad (archives with a real hash chain, backups, working files)"
go run ./tools/xroadgen -preset demo -dir "$DIR/var-lib-xroad"
echo
echo "== 2. archiver sync (first run ships everything finished; working files are ignored)"
"$BIN" sync --source "$DIR/var-lib-xroad" --dest "file://$DIR/archive" --log-level warn
echo
echo "== 3. archiver sync again (nothing new: nothing is read or uploaded)"
"$BIN" sync --source "$DIR/var-lib-xroad" --dest "file://$DIR/archive" --log-level warn
echo
echo "== 4. a backup is rewritten in place: both versions are kept, nothing is overwritten"
cp "$DIR"/var-lib-xroad/backup/conf_backup_*.gpg "$DIR/x" && head -c 1000 /dev/urandom >> "$DIR/x"
mv "$DIR/x" "$(ls "$DIR"/var-lib-xroad/backup/conf_backup_*.gpg | head -1)"
touch -d '10 minutes ago' "$DIR"/var-lib-xroad/backup/conf_backup_*.gpg
"$BIN" sync --source "$DIR/var-lib-xroad" --dest "file://$DIR/archive" --log-level warn
echo
echo "== 5. what the destination holds"
(cd "$DIR/archive" && find . -path ./.archiver-meta -prune -o -path ./.archiver-tmp -prune -o -type f -print | sort)
echo
echo "== 6. archiver verify: every object re-read and re-hashed, every archive's hash chain recomputed"
"$BIN" verify --dest "file://$DIR/archive" --log-level warn
echo
echo "== 7. archiver restore into an empty directory, then compare with the source"
"$BIN" restore --from "file://$DIR/archive" --to "$DIR/restored" --log-level warn
diff -r --exclude 'tmp-mlog-*' --exclude dbdump.dat --exclude 'restore_*' --exclude conf_prerestore_backup.tar \
  "$DIR/var-lib-xroad" "$DIR/restored" && echo "restored tree is identical to the source (working files excepted)"
echo
echo "== 8. one byte of an archive in the destination is damaged: verify names the archive (exit code 4)"
victim=$(cd "$DIR/archive" && ls mlog-EE_GOV*.zip | sed -n 3p)
printf 'X' | dd of="$DIR/archive/$victim" bs=1 seek=200 conv=notrunc status=none
"$BIN" verify --dest "file://$DIR/archive" --log-level warn || echo "(verify exited with $?)"
echo
echo "The demo lives in $DIR; 'make clean' removes it."
