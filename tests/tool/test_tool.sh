#!/usr/bin/env bash
# Drives the built `mmry` tool through every command, on mapped-file and shared-memory stores of
# several compositions: what it prints (and --json parsed back), its exit statuses, the progress
# bar in a pseudo-terminal and its absence without one, and bad input (a missing store, a wrong
# key, a damaged file, a truncated dump).
#
#   tests/tool/test_tool.sh path/to/mmry        (ctest runs it as tool/cli)
set -euo pipefail

mmry=$(realpath "$1")
work=$(mktemp -d)
shm="mmry-tool-test-$$"
cleanup() {
    rm -rf "$work"
    rm -f /dev/shm/"$shm".p* /dev/shm/"$shm"-*.p* 2>/dev/null || true
}
trap cleanup EXIT
cd "$work"
unset MMRY_KEY

failures=0
fail() {
    echo "FAILED: $*" >&2
    failures=$((failures + 1))
}
# expect STATUS CMD...: runs CMD, keeps stdout in out.txt and stderr in err.txt.
expect() {
    local want=$1 got=0
    shift
    "$@" >out.txt 2>err.txt || got=$?
    [[ $got == "$want" ]] || fail "'$*' exited $got, expected $want; stderr: $(cat err.txt)"
}
contains() { grep -qF -- "$2" "$1" || fail "$1 lacks '$2': $(head -c 400 "$1")"; }
# json FILE EXPR: evaluates a Python expression over the JSON document (or list of JSON Lines)
# in FILE; fails unless it is true.
json() {
    python3 - "$1" "$2" <<'EOF' || fail "json check '$2' on $1: $(head -c 400 "$1")"
import json, sys
text = open(sys.argv[1]).read()
lines = [json.loads(l) for l in text.splitlines() if l.strip()]
doc = lines[0] if len(lines) == 1 else lines
sys.exit(0 if eval(sys.argv[2], {"doc": doc, "lines": lines}) else 1)
EOF
}

head -c 200000 /dev/urandom >random.bin
python3 -c "import sys; sys.stdout.write(' '.join('word%d' % (i % 500) for i in range(60000)))" >text.txt

# ---- a plain mapped-file store: every command ---------------------------------------------------
expect 0 "$mmry" create plain --path versioned --fold cdc
contains out.txt "created plain"
expect 0 "$mmry" stat plain --json
json out.txt 'doc["composition"] == {"arena": "mapped_file", "index": "hashed", "compressor": "zstd", "cipher": "none", "path": "versioned", "fold": "cdc", "path_layout": "versioned"} and doc["entries"] == 0'
json out.txt 'doc["recoveries"] == 0 and doc["recovery_ms"] == 0 and doc["flushes"] == 0'
# A store whose commits return once on disk: each put is in the synced journal.
expect 0 "$mmry" create synced --durability sync
expect 0 "$mmry" put synced k text.txt
expect 0 "$mmry" stat synced --json
json out.txt 'doc["durable_txn"] >= 2 and doc["journal_bytes"] > 0 and doc["journal_syncs"] >= 1 and doc["journal_dropped"] == 0'
expect 2 "$mmry" create other-durability --durability sometimes

echo "first" | "$mmry" put plain greet --tag hello --content-type text/plain --attribute who=me ||
    fail "put from stdin"
expect 0 "$mmry" put plain greet --json text.txt
json out.txt "doc['key'] == 'greet' and doc['version'] == 2 and doc['size'] == $(stat -c %s text.txt)"
expect 0 "$mmry" put plain data/random random.bin --tag bin
expect 0 "$mmry" put plain data/other random.bin

expect 0 "$mmry" get plain greet -o got.txt
cmp -s got.txt text.txt || fail "get -o returns another value"
expect 0 "$mmry" get plain greet --version 1
[[ "$(cat out.txt)" == "first" ]] || fail "get --version 1: $(cat out.txt)"
expect 0 "$mmry" get plain data/random --range 1000 50
cmp -s out.txt <(tail -c +1001 random.bin | head -c 50) || fail "get --range returns other bytes"
expect 2 "$mmry" get plain data/random --range 199990 11
contains err.txt "passes the end"
expect 1 "$mmry" get plain nothing-here
contains err.txt "no key 'nothing-here'"

expect 0 "$mmry" ls plain
[[ "$(cat out.txt)" == $'data/other\ndata/random\ngreet' ]] || fail "ls: $(cat out.txt)"
expect 0 "$mmry" ls plain data/
[[ "$(wc -l <out.txt)" == 2 ]] || fail "ls PREFIX: $(cat out.txt)"
expect 0 "$mmry" ls plain --tag bin
[[ "$(cat out.txt)" == "data/random" ]] || fail "ls --tag: $(cat out.txt)"
expect 0 "$mmry" ls plain --range data/a data/p
[[ "$(cat out.txt)" == "data/other" ]] || fail "ls --range: $(cat out.txt)"
expect 0 "$mmry" ls plain -l
contains out.txt "195.3 KiB"
contains out.txt "v2"
expect 0 "$mmry" ls plain --json
json out.txt 'len(lines) == 3 and lines[2]["key"] == "greet" and lines[2]["version"] == 2 and lines[1]["tags"] == ["bin"] and lines[1]["size"] == 200000'

expect 0 "$mmry" history plain greet --json
json out.txt '[l["version"] for l in lines] == [1, 2] and lines[0]["content_type"] == "text/plain" and lines[0]["attributes"] == {"who": "me"}'
expect 1 "$mmry" history plain nothing-here

expect 0 "$mmry" stat plain
contains out.txt "path versioned, fold cdc"
contains out.txt "1 open (this tool included), 0 reading now"
contains out.txt "recoveries   0 (writers that took the lock from a dead one"
contains out.txt "3 keys, 4 records"
expect 0 "$mmry" stat plain --watch 0.1 --count 3
[[ "$(wc -l <out.txt)" == 4 ]] || fail "stat --watch --count 3 prints a head and 3 lines: $(cat out.txt)"
expect 0 "$mmry" stat plain --watch 0.1 --count 2 --json
json out.txt 'len(lines) == 2 and all(l["entries"] == 3 and "puts_per_second" in l for l in lines)'

expect 0 "$mmry" verify plain --json
json out.txt 'doc["ok"] and doc["records"] == 4 and doc["problems"] == []'

# Conditional puts.
expect 2 "$mmry" put plain greet --if-absent text.txt
contains err.txt "if absent: the key has version 2"
expect 2 "$mmry" put plain greet --if-version 1 text.txt
expect 0 "$mmry" put plain greet --if-version 2 text.txt

# rm: a missing key is exit 1, the others are still erased.
expect 1 "$mmry" rm plain data/other nothing-here
contains err.txt "no key 'nothing-here'"
expect 1 "$mmry" get plain data/other

# ---- dump and load ---------------------------------------------------------------------------
expect 0 "$mmry" dump plain -o values.dump
contains out.txt "dumped 2 keys (4 values)"
# Values go into a store of another composition, encrypted under a passphrase.
export MMRY_KEY="correct horse battery staple"
expect 0 "$mmry" create sealed --passphrase --cipher xchacha20_poly1305 --compressor none --path versioned --index ordered
expect 0 "$mmry" load sealed values.dump --json
json out.txt 'doc == {"entries": 4}'
expect 0 "$mmry" get sealed data/random -o back.bin
cmp -s back.bin random.bin || fail "a loaded value differs"
expect 0 "$mmry" history sealed greet --json
json out.txt '[l["version"] for l in lines] == [1, 2, 3] and lines[0]["tags"] == ["hello"]'
expect 0 "$mmry" ls plain --json
mv out.txt plain.json
expect 0 "$mmry" ls sealed --json
python3 - plain.json out.txt <<'EOF' || fail "load keeps modified times"
import json, sys
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:3])
sys.exit(0 if [x["modified_ns"] for x in a] == [x["modified_ns"] for x in b] else 1)
EOF
expect 0 "$mmry" stat sealed --json
json out.txt 'doc["encrypted"] and doc["passphrase"] and doc["composition"]["cipher"] == "xchacha20_poly1305"'
# Records as stored go back into their own store only.
expect 0 "$mmry" dump sealed --records -o records.dump
expect 0 "$mmry" rm sealed data/random
expect 0 "$mmry" load sealed records.dump
expect 0 "$mmry" get sealed data/random -o back.bin
cmp -s back.bin random.bin || fail "a record loaded back differs"
expect 2 "$mmry" load plain records.dump
contains err.txt "entry 1"
contains err.txt "only into the store it was made from"
# A truncated or altered dump is refused, naming what is wrong.
head -c 1000 values.dump >cut.dump
expect 2 "$mmry" load plain cut.dump
contains err.txt "truncated"
cp values.dump bad.dump
printf '\xff' | dd of=bad.dump bs=1 seek=300 conv=notrunc status=none
expect 2 "$mmry" load plain bad.dump
contains err.txt "checksum"
echo "not a dump" >junk.dump
expect 2 "$mmry" load plain junk.dump
contains err.txt "not an mmry dump"

# ---- backups ---------------------------------------------------------------------------------
# The encrypted store (ordered index, versions) backed up twice, listed, restored into shared
# memory with the other index, checked, damaged, pruned.
expect 0 "$mmry" backup sealed repo --json
json out.txt 'doc["number"] == 1 and doc["keys"] >= 2 and doc["written_records"] == doc["records"]'
expect 0 "$mmry" put sealed later text.txt
expect 0 "$mmry" backup sealed repo
contains out.txt "backup #2 of sealed into repo"
contains out.txt "wrote 1 pieces"
expect 0 "$mmry" backups repo --json
json out.txt 'len(lines) == 2 and lines[0]["number"] == 1 and lines[1]["sequence"] > lines[0]["sequence"]'
expect 0 "$mmry" restore repo "shm:$shm-restored" --number 1 --index hashed --json
json out.txt 'doc["backup"]["number"] == 1 and doc["keys"] == 2'
expect 0 "$mmry" get "shm:$shm-restored" data/random -o back.bin
cmp -s back.bin random.bin || fail "a restored value differs"
expect 1 "$mmry" get "shm:$shm-restored" later
expect 0 "$mmry" stat "shm:$shm-restored" --json
json out.txt 'doc["composition"]["index"] == "hashed" and doc["composition"]["cipher"] == "xchacha20_poly1305"'
expect 2 "$mmry" restore repo "shm:$shm-restored"
contains err.txt "replace"
expect 0 "$mmry" restore repo "shm:$shm-restored" --replace
expect 0 "$mmry" get "shm:$shm-restored" later -o back.txt
cmp -s back.txt text.txt || fail "the latest backup lacks a value"
MMRY_KEY="wrong horse" expect 2 "$mmry" restore repo restored-wrong
contains err.txt "not the key"
[[ ! -e restored-wrong ]] || fail "a failed restore left a store behind"
expect 2 "$mmry" backup plain repo
contains err.txt "holds the backups of store"
expect 0 "$mmry" check-backups repo --json
json out.txt 'doc["ok"] and doc["backups"] == 2'
cp -r repo repo-damaged
pack=$(ls repo-damaged/packs/*.pack | head -1)
printf '\xff' | dd of="$pack" bs=1 seek=200 conv=notrunc status=none
expect 1 "$mmry" check-backups repo-damaged
contains out.txt "problem:"
expect 2 "$mmry" restore repo-damaged restored-damaged
contains err.txt "$pack"
expect 0 "$mmry" prune repo --keep-last 1 --json
json out.txt 'doc["kept"] == [2] and doc["removed"] == [1]'
expect 2 "$mmry" prune repo
contains err.txt "keep nothing"
expect 2 "$mmry" backups no-such-repo
contains err.txt "no backup repository"
"$mmry" --help >/dev/null 2>&1 || true

# ---- keys ------------------------------------------------------------------------------------
MMRY_KEY="wrong horse" expect 2 "$mmry" stat sealed
contains err.txt "not the key it was created with"
unset MMRY_KEY
expect 2 "$mmry" stat sealed
contains err.txt "MMRY_KEY"
printf 'correct horse battery staple\n' >pass.txt
expect 0 "$mmry" stat sealed --key-file pass.txt
# A 32-byte key: 64 hex digits, or a file of 32 raw bytes.
head -c 32 /dev/urandom >raw.key
expect 0 "$mmry" create keyed --key-file raw.key --cipher aes256_gcm
MMRY_KEY=$(xxd -p -c 64 raw.key) expect 0 "$mmry" put keyed k random.bin
expect 0 "$mmry" get keyed k --key-file raw.key -o back.bin
cmp -s back.bin random.bin || fail "get from an AES store"
MMRY_KEY=abc expect 2 "$mmry" stat keyed
contains err.txt "64 hex digits"
# A prompt on a terminal, without echo.
if script -qec true /dev/null >/dev/null 2>&1; then
    # Typed once the prompt is up (typed earlier, the terminal would echo it before the tool
    # turns echo off, as it would for a person typing ahead).
    (sleep 1 && printf 'correct horse battery staple\n') |
        script -qec "'$mmry' stat sealed --json" /dev/null >tty.txt 2>&1 || fail "prompt: $(cat tty.txt)"
    contains tty.txt "Passphrase for sealed"
    grep -q "correct horse" tty.txt && fail "the passphrase was echoed"
fi

# ---- progress: on a terminal only ------------------------------------------------------------
for i in $(seq 1 40); do echo "$i" | "$mmry" put plain "many/$i" >/dev/null; done
expect 0 "$mmry" verify plain
contains out.txt ": ok"
grep -q $'\r' err.txt && fail "a progress bar without a terminal"

# ---- compact: after most keys go, the store gives its pages back ----------------------------
for i in $(seq 1 40); do "$mmry" rm plain "many/$i" >/dev/null || fail "rm many/$i"; done
expect 0 "$mmry" compact plain --json
json out.txt 'doc["size_after"] <= doc["size_before"] and doc["held_after"] <= doc["held_before"] and doc["live_bytes"] > 0'
expect 0 "$mmry" compact plain
contains out.txt "compacted plain: moved"
expect 0 "$mmry" verify plain
contains out.txt ": ok"
if script -qec true /dev/null >/dev/null 2>&1; then
    script -qec "'$mmry' verify plain" /dev/null >tty.txt 2>&1 </dev/null || fail "verify in a pty"
    grep -q 'verify \[' tty.txt || fail "no progress bar in a terminal: $(cat -v tty.txt | head -c 300)"
    contains tty.txt "100%"
fi
expect 0 "$mmry" dump plain -o all.dump --progress
grep -q 'dump \[' err.txt || fail "--progress forces the bar"

# ---- shared memory ----------------------------------------------------------------------------
expect 0 "$mmry" create "shm:$shm" --index ordered --compressor adaptive --path temporal-day
expect 0 "$mmry" put "shm:$shm" k random.bin
expect 0 "$mmry" stat "shm:$shm" --json
json out.txt 'doc["composition"]["arena"] == "shared_memory" and doc["composition"]["path_layout"] == "temporal (day)" and doc["entries"] == 1 and doc["readers"] == 1'
# A process that keeps the store open is one more reader (`stat` is the other).
"$mmry" stat "shm:$shm" --watch 0.2 --count 25 >/dev/null &
watcher=$!
sleep 1
expect 0 "$mmry" stat "shm:$shm" --json
json out.txt 'doc["readers"] == 2'
kill $watcher
wait $watcher 2>/dev/null || true
expect 0 "$mmry" get "shm:$shm" k -o back.bin
cmp -s back.bin random.bin || fail "get from shared memory"
expect 2 "$mmry" create "shm:$shm"
contains err.txt "exists"

# ---- bad stores -------------------------------------------------------------------------------
expect 2 "$mmry" stat nowhere
contains err.txt "store nowhere does not exist"
expect 2 "$mmry" stat "shm:nowhere-$$"
mkdir empty
expect 2 "$mmry" stat empty
# A damaged record: verify reports it (exit 1) and get fails with exit 2, never a crash.
expect 0 "$mmry" create damaged --compressor none
python3 -c "import sys; sys.stdout.write('Z' * 5000)" >zeds.txt
expect 0 "$mmry" put damaged k zeds.txt
python3 - damaged/pages-0000.mmry <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
at = data.find(b"Z" * 5000)
assert at >= 0
data[at + 100] ^= 0x01
open(sys.argv[1], "wb").write(data)
EOF
expect 1 "$mmry" verify damaged --json
json out.txt 'not doc["ok"] and len(doc["problems"]) >= 1'
expect 2 "$mmry" get damaged k
contains err.txt "checksum"
# repair takes the damaged record out into the quarantine, which lists, exports and drops it.
cp -r damaged repaired
expect 0 "$mmry" repair repaired
contains out.txt "quarantined"
expect 0 "$mmry" verify repaired
expect 1 "$mmry" get repaired k
expect 0 "$mmry" quarantine repaired --json
json out.txt 'len(doc) == 1 and doc[0]["name"] == "k" and doc[0]["kind"] == "record" and doc[0]["size"] > 5000'
item=$(python3 -c 'import json; print(json.load(open("out.txt"))[0]["id"])')
expect 0 "$mmry" quarantine repaired --export "$item" -o quarantined.bin
python3 -c 'd = open("quarantined.bin", "rb").read(); assert len(d) > 5000 and d.count(b"Z") > 4900' ||
    fail "the exported item is not the record as stored"
expect 0 "$mmry" quarantine repaired --drop "$item"
expect 1 "$mmry" quarantine repaired --drop "$item"
expect 0 "$mmry" repair repaired --json
json out.txt 'doc["actions"] == [] and doc["remaining"] == [] and doc["quarantined"] == 0'
# A header from another format is refused by name.
printf 'XXXXXXXX' | dd of=damaged/pages-0000.mmry bs=1 seek=0 conv=notrunc status=none
expect 2 "$mmry" stat damaged

# Usage errors.
expect 2 "$mmry" frobnicate plain
expect 2 "$mmry" get plain
expect 2 "$mmry" create other --cipher rot13
contains err.txt "no cipher named 'rot13'"
expect 0 "$mmry" --version
contains out.txt "0."

if ((failures > 0)); then
    echo "$failures checks failed" >&2
    exit 1
fi
echo "all mmry tool checks passed"
