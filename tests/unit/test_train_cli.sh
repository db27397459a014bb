#!/usr/bin/env bash
# test_train_cli.sh - cmanp-train end to end on a tiny model:
#   --until, automatic resume, bit-identical to a straight run, SIGINT writes a
#   checkpoint (status 130) and the run continues, option mismatch refused.
# usage: test_train_cli.sh path/to/cmanp-train workdir
set -u
BIN=$1
WORK=$(mktemp -d "${2:-/tmp}/cli_train.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CFG='{"dim_x":1,"dim_y":1,"d_model":16,"emb_depth":2,"dim_feedforward":32,"nhead":2,"num_layers":2,"num_latents":8,"num_latents_per_layer":8,"bound_std":false}'
COMMON=(--config "$CFG" --steps 40 --batch 4 --lr 1e-3 --seed 5 --checkpoint-every 10 --threads 2)
fail=0
check() { if eval "$2"; then echo "ok - $1"; else echo "FAIL - $1"; fail=1; fi; }

"$BIN" --out "$WORK/a.safetensors" "${COMMON[@]}" --until 20 2>"$WORK/log1"; st=$?
check "--until 20 exits 0" "[ $st -eq 0 ]"
check "checkpoint written, no model yet" "[ -f $WORK/a.safetensors.ckpt.safetensors ] && [ ! -f $WORK/a.safetensors ]"
"$BIN" --out "$WORK/a.safetensors" "${COMMON[@]}" --progress --report-every 10 2>"$WORK/log2"; st=$?
check "resume to the end exits 0" "[ $st -eq 0 ]"
check "resumed at step 20" "grep -q 'resuming .* at step 20 of 40' $WORK/log2"
check "progress lines" "grep -q 'step 30/40' $WORK/log2"
check "model written" "[ -f $WORK/a.safetensors ]"

"$BIN" --out "$WORK/b.safetensors" "${COMMON[@]}" 2>"$WORK/log3"; st=$?
check "straight run exits 0" "[ $st -eq 0 ]"
check "interrupted+resumed model == straight model (bytes)" "cmp -s $WORK/a.safetensors $WORK/b.safetensors"

"$BIN" --out "$WORK/a.safetensors" "${COMMON[@]/--lr/--lr}" --lr 2e-3 2>"$WORK/log4"; st=$?
check "option differing from the checkpoint refused" "[ $st -eq 2 ] && grep -q -- '--lr differs' $WORK/log4"
"$BIN" --out "$WORK/a.safetensors" "${COMMON[@]}" --init "$WORK/b.safetensors" 2>"$WORK/log4b"; st=$?
check "--init with an existing checkpoint refused, says how to continue" "[ $st -eq 2 ] && grep -q 'drop --init to continue' $WORK/log4b"
"$BIN" --out "$WORK/none.safetensors" --resume "${COMMON[@]}" 2>/dev/null; st=$?
check "--resume without a checkpoint refused" "[ $st -eq 2 ]"
"$BIN" --out "$WORK/x.safetensors" --bogus 1 2>/dev/null; st=$?
check "unknown option is a usage error" "[ $st -eq 2 ]"

# SIGINT: a long run stops at a step boundary with a checkpoint.
"$BIN" --out "$WORK/c.safetensors" --config "$CFG" --steps 1000000 --batch 4 --checkpoint-every 0 --threads 2 2>"$WORK/log5" &
pid=$!
for _ in $(seq 1 100); do grep -q "new run" "$WORK/log5" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -INT $pid
wait $pid; st=$?
check "SIGINT exits 130" "[ $st -eq 130 ]"
check "SIGINT wrote a checkpoint" "[ -f $WORK/c.safetensors.ckpt.safetensors ] && grep -q 'interrupted at step' $WORK/log5"
step=$(sed -n 's/.*interrupted at step \([0-9]*\).*/\1/p' "$WORK/log5")
"$BIN" --out "$WORK/c.safetensors" --until $((step + 3)) 2>"$WORK/log6"; st=$?
check "continues after SIGINT" "[ $st -eq 0 ] && grep -q \"resuming .* at step $step \" $WORK/log6"

exit $fail
