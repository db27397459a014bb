-- bounded.sql - guard rails of the scaling targets through SQL (issue #6, item 3;
-- the engine's own are tests/unit/test_bounded.c).  No timing: counters only.
--   B1 memory: the engine's live bytes, sampled every 500 rows while
--      SELECT cmanp_condition(...) streams 10^3 and 10^5 rows, reach the same
--      maximum (nothing the aggregate holds grows with N), and the state BLOB
--      has the same size.
--   B2 work per update: cmanp_update with one new row, then cmanp_mean at one
--      target, on stored states of 10^3 and 10^5 rows: the same engine work
--      (cmanp_debug() work: matrix-product FLOPs, rows folded) and the same
--      counters (one row added, one readout); the FLOPs are the documented
--      flops_per_row + flops_per_readout + flops_per_target.
.load @EXT@
.headers off
SELECT cmanp_model_load('gp', '@SHARED@/golden/gp_cmanp.weights.safetensors');
CREATE TEMP TABLE mem(n INTEGER PRIMARY KEY, state_bytes INTEGER, max_live INTEGER, before INTEGER);

.print B1 the engine's live bytes while the aggregate streams 10^3 and 10^5 rows
INSERT INTO mem
SELECT 1000, length(cmanp_condition('gp', (value % 4096) / 1024.0 - 2, sin(3 * ((value % 4096) / 1024.0 - 2)))),
       max(CASE WHEN value % 500 = 499 THEN cmanp_debug() ->> '$.engine_live_bytes' END),
       (SELECT cmanp_debug() ->> '$.engine_live_bytes')
  FROM generate_series(0, 999);
INSERT INTO mem
SELECT 100000, length(cmanp_condition('gp', (value % 4096) / 1024.0 - 2, sin(3 * ((value % 4096) / 1024.0 - 2)))),
       max(CASE WHEN value % 500 = 499 THEN cmanp_debug() ->> '$.engine_live_bytes' END),
       (SELECT cmanp_debug() ->> '$.engine_live_bytes')
  FROM generate_series(0, 99999);
SELECT n, state_bytes, max_live > before AS sampled_while_streaming FROM mem ORDER BY n;
SELECT (SELECT max_live FROM mem WHERE n = 100000) = (SELECT max_live FROM mem WHERE n = 1000) AS same_peak,
       (SELECT state_bytes FROM mem WHERE n = 100000) = (SELECT state_bytes FROM mem WHERE n = 1000) AS same_size;

.print B2 one new row and one prediction cost the same after 10^3 and 10^5 rows
CREATE TABLE st AS
SELECT 1000 AS n, cmanp_condition('gp', (value % 4096) / 1024.0 - 2, sin(3 * ((value % 4096) / 1024.0 - 2))) AS state
  FROM generate_series(0, 999)
UNION ALL
SELECT 100000, cmanp_condition('gp', (value % 4096) / 1024.0 - 2, sin(3 * ((value % 4096) / 1024.0 - 2)))
  FROM generate_series(0, 99999);
CREATE TEMP TABLE snap(tag TEXT PRIMARY KEY, flops INTEGER, folds INTEGER, added INTEGER, readouts INTEGER);
CREATE TEMP VIEW now AS
SELECT cmanp_debug() ->> '$.work.gemm_flops' AS flops, cmanp_debug() ->> '$.work.rows_folded' AS folds,
       cmanp_debug() ->> '$.counters.rows_added' AS added, cmanp_debug() ->> '$.counters.readouts_computed' AS readouts;
INSERT INTO snap SELECT 'a0', * FROM now;
SELECT typeof(cmanp_mean((SELECT cmanp_update(state, 0.3, 0.1)), 0.25)) FROM st WHERE n = 1000;
INSERT INTO snap SELECT 'a1', * FROM now;
SELECT typeof(cmanp_mean((SELECT cmanp_update(state, 0.3, 0.1)), 0.25)) FROM st WHERE n = 100000;
INSERT INTO snap SELECT 'a2', * FROM now;
CREATE TEMP VIEW delta AS
SELECT b.tag AS tag, b.flops - a.flops AS flops, b.folds - a.folds AS folds, b.added - a.added AS added,
       b.readouts - a.readouts AS readouts
  FROM snap a JOIN snap b ON (a.tag, b.tag) IN (VALUES ('a0', 'a1'), ('a1', 'a2'));
SELECT CASE tag WHEN 'a1' THEN 'N = 10^3' ELSE 'N = 10^5' END, flops, folds, added, readouts FROM delta ORDER BY tag;
SELECT count(DISTINCT flops || '/' || folds || '/' || added || '/' || readouts) = 1 AS same_work FROM delta;
