#!/usr/bin/env bash
# cmhp_cli.sh CMHP_BINARY - the `cmhp` command (ext/cli/cmhp_main.c M1-M5):
#   a run interrupted with --until and resumed from its checkpoint ends with the
#   same checkpoint bytes as a straight run (hawkes_meta simulator and a SQL
#   query source), --out writes a loadable model, eval prints the metric table
#   with the oracle and Poisson floor, a resumed SQL run must see the same data,
#   the shipped models beat the Poisson floor, and usage errors exit with status 2.
set -eu
bin=$1
: "${CMANP_SHARED_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
common=(--variant recency --d-model 16 --heads 2 --layers 1 --latents 4 --latents-per-layer 4 --ff 16
        --mix 3 --rates 0.5,2 --batch 2 --warmup 2 --report-every 100)
# simulator source: straight vs interrupted + resumed
"$bin" train "${common[@]}" --source hawkes_meta --steps 6 --checkpoint a.ckpt --out a.st > a.log
"$bin" train "${common[@]}" --source hawkes_meta --steps 6 --checkpoint b.ckpt --until 3 > b1.log
grep -q "step      3/6" b1.log || fail "interrupted run did not stop at step 3"
"$bin" train --checkpoint b.ckpt --out b.st > b2.log
grep -q "resuming b.ckpt at step 3 of 6" b2.log || fail "no resume message"
cmp a.ckpt b.ckpt || fail "resumed checkpoint differs from the straight run's"
cmp a.st b.st || fail "resumed model differs from the straight run's"
"$bin" info a.st | grep -q "variant recency" || fail "info"
"$bin" eval a.st "$CMANP_SHARED_DIR/tpp/hawkes_meta.sqlite" --limit 3 > e.log
grep -q "^oracle " e.log && grep -q "^Poisson floor " e.log && grep -q "^model " e.log || fail "eval table"
"$bin" eval a.st "$CMANP_SHARED_DIR/tpp/hawkes_meta.sqlite" --limit 3 --stream > e2.log
diff <(grep "^model " e.log | awk '{printf "%.3f\n", $2}') <(grep "^model " e2.log | awk '{printf "%.3f\n", $2}') \
  || fail "eval: prefix scan and streaming disagree"
# SQL source
q="SELECT seq, t, mark FROM events WHERE seq < 20"
db="$CMANP_SHARED_DIR/tpp/hawkes_meta.sqlite"
"$bin" train "${common[@]}" --source sql --db "$db" --query "$q" --steps 4 --checkpoint c.ckpt > c.log
"$bin" train "${common[@]}" --source sql --db "$db" --query "$q" --steps 4 --checkpoint d.ckpt --until 2 > d1.log
"$bin" train --db "$db" --query "$q" --checkpoint d.ckpt > d2.log
cmp c.ckpt d.ckpt || fail "SQL source: resumed checkpoint differs"
if "$bin" train --db "$db" --query "SELECT seq, t, mark FROM events WHERE seq < 21" --checkpoint d.ckpt > x.log 2>&1; then
  fail "resume on different data accepted"
fi
grep -q "different data" x.log || fail "message for different data: $(cat x.log)"
# the shipped models beat the Poisson floor on the first sequences of their set
src=${CMANP_SOURCE_DIR:-$(dirname "$0")/../..}
for set in hawkes1 hawkes2 hawkes_meta; do
  for v in _paper ""; do
    m="$src/models/cmhp_$set$v.safetensors"
    [ -f "$m" ] || fail "missing shipped model $m"
    "$bin" eval "$m" "$CMANP_SHARED_DIR/tpp/$set.sqlite" --limit 20 > s.log || fail "eval $m"
    awk '/^model /{m=$2} /^Poisson floor /{f=$3} END{exit !(m < f)}' s.log || fail "$m does not beat the floor: $(cat s.log)"
  done
done
set +e
"$bin" train --bogus 1 > /dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option: status"
"$bin" eval a.st /nonexistent.sqlite > /dev/null 2>&1; [ $? -eq 1 ] || fail "missing set: status"
echo "ok: cmhp CLI"
