#!/usr/bin/env python3
"""make_sql_seeds.py - (re)writes tests/fuzz/seeds/sql/from_<script>_<k>.sql:
the statements of tests/sql/*.sql adapted to the fuzz_sql fixture (models
'm' 1x1 and 'm2' 2x2 instead of the golden models, file paths replaced by the
sandbox's fixture files), a few statements per seed file, each at most 4 KB.
The hand-written seeds (seeds/sql/*.sql not named from_*) are kept.

    python3 tests/fuzz/make_sql_seeds.py
"""
import glob
import os
import re
import sqlite3

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "..", "sql")
out = os.path.join(here, "seeds", "sql")
os.makedirs(out, exist_ok=True)
for f in glob.glob(os.path.join(out, "from_*.sql")):
    os.remove(f)

SUBST = [
    (r"'@SHARED@/golden/gp_cmanp\.weights\.safetensors'", "'m.safetensors'"),
    (r"'@SHARED@/golden/small_cmanp\.weights\.safetensors'", "'m2.safetensors'"),
    (r"'@SOURCE@/models/cmhp[-_][a-z_0-9-]+\.safetensors'", "'h.safetensors'"),
    (r"'@[A-Z]+@/[^']*'", "'m.safetensors'"),
    (r"@[A-Z]+@/?", ""),
    (r"'(gp|gp_copy|other|tmp)'", "'m'"),
    (r"'(small|xy2|x5y4)'", "'m2'"),
    (r"'(hm|h1)'", "'h'"),
    # cmanp_train with default options would train the paper's model for
    # 100000 steps: a tiny model and a few steps instead.
    (r"(cmanp_train\('[^']*', )'\{[^']*\}'", r"\1'%s'" % (
        '{"config": {"dim_x": 1, "dim_y": 1, "d_model": 4, "emb_depth": 2, "dim_feedforward": 4, '
        '"nhead": 2, "num_layers": 1, "num_latents": 2, "num_latents_per_layer": 2, "bound_std": false}, '
        '"steps": 3, "batch": 2, "threads": 1, "max_points": 12}')),
]

n_files = 0
for path in sorted(glob.glob(os.path.join(src, "*.sql"))):
    name = os.path.splitext(os.path.basename(path))[0]
    stmts, cur = [], ""
    for line in open(path):
        if line.startswith(".") or line.strip().startswith("--") and not cur:
            continue
        cur += line
        if sqlite3.complete_statement(cur):
            s = cur.strip()
            for a, b in SUBST:
                s = re.sub(a, b, s)
            if s.upper().startswith(("ATTACH", "DETACH", "VACUUM")):
                cur = ""
                continue
            stmts.append(s)
            cur = ""
    chunk, k = [], 0
    for s in stmts + [None]:
        if s is None or (chunk and (len(chunk) >= 6 or sum(map(len, chunk)) + len(s) > 4000)):
            if chunk:
                with open(os.path.join(out, "from_%s_%02d.sql" % (name, k)), "w") as f:
                    f.write("\n".join(chunk) + "\n")
                k += 1
                n_files += 1
            chunk = []
        if s is not None and len(s) <= 4000:
            chunk.append(s)
print("wrote %d seed files to %s" % (n_files, out))
