-- predict.sql - predictions: cmanp_mean / cmanp_std / cmanp_quantile / cmanp_logprob
-- and the table-valued function cmanp_predict; the state cache.
-- Spec: ext/predict.c P1-P5, ext/predict_vtab.c V1-V7, ext/state_cache.c S1-S5,
-- ext/cmanp_ext.c L10 (cmanp_threads).
.load @EXT@
.headers off
SELECT cmanp_model_load('gp', '@SHARED@/golden/gp_cmanp.weights.safetensors');
SELECT cmanp_model_load('xy2', 'sql_xy2.safetensors');
SELECT cmanp_model_load('x5y4', 'sql_x5y4.safetensors');
CREATE TABLE obs(sensor TEXT, x REAL, y REAL);
INSERT INTO obs SELECT 's' || (value % 3), ((value * 7) % 83) / 20.0 - 2, sin(((value * 7) % 83) / 20.0 * (1 + value % 3))
  FROM generate_series(0, 149);
CREATE TABLE states AS SELECT sensor, cmanp_condition('gp', x, y) AS state FROM obs GROUP BY sensor;
CREATE TABLE queries(qid INTEGER PRIMARY KEY, sensor TEXT, x REAL);
INSERT INTO queries(sensor, x) SELECT 's' || (value % 3), -2 + (value / 3) * 0.04 FROM generate_series(0, 299);
CREATE TEMP TABLE snap(k TEXT PRIMARY KEY, v INTEGER);
CREATE TEMP VIEW delta AS
  SELECT coalesce(json_group_object(key, value - coalesce((SELECT v FROM snap WHERE k = key), 0)), '{}') AS d
    FROM json_each(cmanp_debug(), '$.counters')
   WHERE value != coalesce((SELECT v FROM snap WHERE k = key), 0);

.print P1 cmanp_mean / cmanp_std (dim_y = 1: REAL)
SELECT sensor, printf('%.6f', cmanp_mean(state, 0.25)), printf('%.6f', cmanp_std(state, 0.25)),
       typeof(cmanp_mean(state, 0.25)) FROM states ORDER BY sensor;
SELECT printf('%.6f', cmanp_mean(state, 1)) = printf('%.6f', cmanp_mean(state, 1.0)) FROM states WHERE sensor = 's0';

.print P2 cmanp_quantile: p = 0.5 is the mean; 0.975 is mean + 1.959964 std
SELECT sensor, cmanp_quantile(state, 0.5, 0.25) = cmanp_mean(state, 0.25),
       printf('%.9f', (cmanp_quantile(state, 0.975, 0.25) - cmanp_mean(state, 0.25)) / cmanp_std(state, 0.25))
  FROM states ORDER BY sensor;

.print P3 cmanp_logprob = log N(y; mean, std^2) (x and y are rounded to float32 like every engine input)
SELECT sensor, printf('%.6f', cmanp_logprob(state, 0.25, 0.1)),
       abs(cmanp_logprob(state, 0.25, 0.1) - (-0.5 * pow((0.1 - cmanp_mean(state, 0.25)) / cmanp_std(state, 0.25), 2)
           - ln(cmanp_std(state, 0.25)) - 0.5 * ln(2 * pi()))) < 1e-6
  FROM states ORDER BY sensor;

.print P4 NULL arguments give NULL
SELECT cmanp_mean(NULL, 0.25) IS NULL, cmanp_mean(state, NULL) IS NULL, cmanp_std(state, NULL) IS NULL,
       cmanp_quantile(state, NULL, 0.25) IS NULL, cmanp_quantile(state, 0.5, NULL) IS NULL,
       cmanp_logprob(state, 0.25, NULL) IS NULL, cmanp_logprob(state, NULL, 0.1) IS NULL
  FROM states WHERE sensor = 's0';

.print P1 dim_y > 1: JSON arrays with the JSON subtype
CREATE TABLE st2 AS SELECT cmanp_condition('xy2', x, -x, y, x * y) AS s FROM obs;
SELECT json_valid(cmanp_mean(s, 0.1, 0.2)), json_array_length(cmanp_mean(s, 0.1, 0.2)),
       json_array_length(cmanp_std(s, 0.1, 0.2)), json_array_length(cmanp_quantile(s, 0.9, 0.1, 0.2)),
       typeof(cmanp_logprob(s, 0.1, 0.2, 0.3, 0.4)) FROM st2;
SELECT json_type(json_array(cmanp_mean(s, 0.1, 0.2)), '$[0]'), typeof(cmanp_mean(s, 0.1, 0.2) ->> '$[1]') FROM st2;
SELECT printf('%.6f', cmanp_mean(s, 0.1, 0.2) ->> '$[0]') = printf('%.6f', p.mean) FROM st2, cmanp_predict(st2.s, 0.1, 0.2) p WHERE p.dim = 1;
SELECT abs(cmanp_logprob(s, 0.1, 0.2, 0.3, 0.4) -
           (SELECT sum(-0.5 * pow((y - p.mean) / p.std, 2) - ln(p.std) - 0.5 * ln(2 * pi()))
              FROM cmanp_predict(st2.s, 0.1, 0.2) p JOIN (SELECT 1 AS dim, 0.3 AS y UNION ALL SELECT 2, 0.4) USING (dim))) < 1e-6
  FROM st2;
CREATE TABLE st5 AS SELECT cmanp_condition('x5y4', x, x, x, x, x, y, y, y, y) AS s FROM obs;
SELECT json_array_length(cmanp_mean(s, 0.1, 0.2, 0.3, 0.4, 0.5)) FROM st5;

.print V1 cmanp_predict: one row per output dimension
SELECT dim, printf('%.6f', mean), printf('%.6f', std), printf('%.6f', lower), printf('%.6f', upper), level
  FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'), 0.25);
SELECT count(*), min(dim), max(dim) FROM cmanp_predict((SELECT s FROM st2), 0.1, 0.2);
SELECT count(*), group_concat(dim) FROM cmanp_predict((SELECT s FROM st5), 0.1, 0.2, 0.3, 0.4, 0.5, 0.8);

.print V2 level: default 0.95, explicit; interval = mean -/+ Phi^-1((1 + level) / 2) std
SELECT level, printf('%.9f', (upper - mean) / std), printf('%.9f', (mean - lower) / std)
  FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'), 0.25);
SELECT level, printf('%.9f', (upper - mean) / std)
  FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'), 0.25, 0.5);
SELECT level, printf('%.9f', (upper - mean) / std)
  FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'), 0.25, 0.99);
SELECT p.upper = cmanp_quantile(s.state, 0.9, 0.25)
  FROM states s, cmanp_predict(s.state, 0.25, 0.8) p WHERE s.sensor = 's1';

.print V3 a lateral join: states x queries -> predictions, agrees with the scalars
SELECT count(*), sum(p.mean = cmanp_mean(s.state, q.x)), sum(p.std = cmanp_std(s.state, q.x))
  FROM states s JOIN queries q ON q.sensor = s.sensor, cmanp_predict(s.state, q.x) p;
SELECT q.sensor, q.x, printf('%.4f', p.mean), printf('%.4f', p.lower), printf('%.4f', p.upper)
  FROM states s JOIN queries q ON q.sensor = s.sensor, cmanp_predict(s.state, q.x) p
 WHERE q.qid % 60 = 0 ORDER BY q.qid;

.print V3 the planner finds the order even when the function is written first
SELECT count(*) FROM cmanp_predict(s.state, q.x) p, queries q, states s WHERE q.sensor = s.sensor;
SELECT count(*) FROM queries q LEFT JOIN states s ON s.sensor = q.sensor AND q.x > 0 LEFT JOIN cmanp_predict(s.state, q.x) p;

.print V1 the hidden argument columns
SELECT typeof(state), length(state), a1, a2, a3 FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's2'), 0.5, 0.9);
SELECT count(*) FROM cmanp_predict WHERE state = (SELECT state FROM states WHERE sensor = 's2') AND a1 = 0.5;

.print V4 NULL arguments give no rows
SELECT count(*) FROM cmanp_predict(NULL, 0.25);
SELECT count(*) FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'), NULL);
SELECT count(*) FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'), 0.25, NULL);
SELECT count(*) FROM cmanp_predict((SELECT s FROM st2), 0.1, NULL);

.print V7 many targets in one call: an IN list on a1 is decoded in batches; the rows of the single calls
.print V7 to float32 rounding (a batch's products round differently from one row's), and the same bits every time
CREATE TABLE grid AS SELECT value * 0.03 - 2 AS x FROM generate_series(0, 132);
DELETE FROM snap; INSERT INTO snap SELECT key, value FROM json_each(cmanp_debug(), '$.counters');
CREATE TABLE batched AS SELECT p.a1 AS x, p.dim, p.mean, p.std, p.lower, p.upper, p.level
  FROM states s, cmanp_predict(s.state) p WHERE s.sensor = 's1' AND p.a1 IN (SELECT x FROM grid);
SELECT 'V7 one lookup, 133 targets:', d FROM delta;
SELECT count(*), count(DISTINCT x), sum(abs(b.mean - p.mean) <= 1e-6 * (1 + abs(p.mean)) AND abs(b.std / p.std - 1) <= 1e-6
                                       AND abs(b.lower - p.lower) <= 1e-5 AND b.level = p.level AND b.dim = p.dim)
  FROM batched b, states s, cmanp_predict(s.state, b.x) p WHERE s.sensor = 's1';
WITH again AS MATERIALIZED (SELECT p.a1 AS x, p.mean, p.std FROM states s, cmanp_predict(s.state) p
                             WHERE s.sensor = 's1' AND p.a1 IN (SELECT x FROM grid))
SELECT count(*), sum(b.mean = p.mean AND b.std = p.std) FROM batched b JOIN again p USING (x);
.print V7 the plan names the batched argument
EXPLAIN QUERY PLAN SELECT p.mean FROM states s, cmanp_predict(s.state) p WHERE p.a1 IN (SELECT x FROM grid);
.print V7 NULL items match nothing, duplicates count once, a literal list works, per state in a join
SELECT group_concat(a1, ' '), count(*) FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'))
 WHERE a1 IN (0.5, NULL, -0.5, 0.5, 1);
SELECT s.sensor, count(*), printf('%.5f', sum(p.mean)) = printf('%.5f', sum(cmanp_mean(s.state, p.a1)))
  FROM states s, cmanp_predict(s.state) p WHERE p.a1 IN (-1, 0, 1) GROUP BY s.sensor ORDER BY s.sensor;
SELECT count(*) FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0')) WHERE a1 IN (SELECT NULL);
SELECT count(*) FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0')) WHERE a1 IN (SELECT x FROM grid WHERE 0);
.print V7 an IN list on the level, on a second input, and on two arguments at once
SELECT a1, a2, level, printf('%.9f', (upper - mean) / std)
  FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'), 0.25) WHERE a2 IN (0.99, 0.5);
SELECT count(*), sum(abs(p.mean - (cmanp_mean(st2.s, p.a1, p.a2) ->> ('$[' || (p.dim - 1) || ']'))) <= 1e-6)
  FROM st2, cmanp_predict(st2.s, 0.1) p WHERE p.a2 IN (0.2, 0.4, 0.6);
SELECT count(*), count(DISTINCT a1 || ',' || a2) FROM st2, cmanp_predict(st2.s) p WHERE p.a1 IN (0.1, 0.3) AND p.a2 IN (0.2, 0.4, 0.6);
.print V7 errors: a non-numeric or non-finite item, a level outside (0, 1)
SELECT count(*) FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0')) WHERE a1 IN (0.5, 'x');
SELECT count(*) FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0')) WHERE a1 IN (0.5, 1e300);
SELECT count(*) FROM cmanp_predict((SELECT state FROM states WHERE sensor = 's0'), 0.25) WHERE a2 IN (0.5, 1.5);

.print L10 cmanp_threads: 1 by default; 2 threads give bit-identical results
SELECT cmanp_threads(), cmanp_debug() ->> '$.threads';
CREATE TABLE fresh2 AS SELECT sensor, cmanp_condition('gp', x, y - 0.25) AS state FROM obs GROUP BY sensor;
CREATE TABLE t1 AS SELECT s.sensor, p.a1 AS x, p.mean, p.std FROM fresh2 s, cmanp_predict(s.state) p WHERE p.a1 IN (SELECT x FROM grid);
SELECT cmanp_threads(2), cmanp_threads(), cmanp_debug() ->> '$.threads';
CREATE TABLE fresh3 AS SELECT sensor, cmanp_condition('gp', x, y - 0.25) AS state FROM obs GROUP BY sensor;
CREATE TABLE t2 AS SELECT s.sensor, p.a1 AS x, p.mean, p.std FROM fresh3 s, cmanp_predict(s.state) p WHERE p.a1 IN (SELECT x FROM grid);
SELECT count(*), sum(t1.mean = t2.mean AND t1.std = t2.std) FROM t1 JOIN t2 USING (sensor, x);
SELECT count(*), sum(abs(cmanp_mean(s.state, g.x) - t1.mean) <= 1e-6 * (1 + abs(t1.mean)))
  FROM fresh3 s, grid g JOIN t1 ON t1.sensor = s.sensor AND t1.x = g.x;
.print L10 one target per call on 2 threads: the same bits as on 1 thread
CREATE TABLE t3 AS SELECT s.sensor, g.x, cmanp_mean(s.state, g.x) AS mean FROM fresh3 s, grid g;
SELECT cmanp_threads(1);
CREATE TABLE t4 AS SELECT s.sensor, g.x, cmanp_mean(s.state, g.x) AS mean FROM fresh2 s, grid g;
SELECT count(*), sum(t3.mean = t4.mean) FROM t3 JOIN t4 USING (sensor, x);
.print L10 errors
SELECT cmanp_threads(0);
SELECT cmanp_threads(9);
SELECT cmanp_threads(1.5);
SELECT cmanp_threads(NULL);
SELECT cmanp_threads('two');
SELECT cmanp_threads();

.print S4 one decode + readout per distinct state, not per row: 3 new states, 300 queries
CREATE TABLE fresh AS SELECT sensor, cmanp_condition('gp', x, y + 0.5) AS state FROM obs GROUP BY sensor;
DELETE FROM snap; INSERT INTO snap SELECT key, value FROM json_each(cmanp_debug(), '$.counters');
SELECT count(*), printf('%.3f', sum(p.mean)) FROM fresh s JOIN queries q ON q.sensor = s.sensor, cmanp_predict(s.state, q.x) p;
SELECT 'S4 TVF join:', d FROM delta;
DELETE FROM snap; INSERT INTO snap SELECT key, value FROM json_each(cmanp_debug(), '$.counters');
SELECT count(*), printf('%.3f', sum(cmanp_mean(s.state, q.x))) FROM queries q JOIN fresh s ON s.sensor = q.sensor;
SELECT 'S4 the same with a scalar (LRU hits):', d FROM delta;
DELETE FROM snap; INSERT INTO snap SELECT key, value FROM json_each(cmanp_debug(), '$.counters');
SELECT count(*), printf('%.3f', sum(cmanp_std((SELECT cmanp_condition('gp', x, y - 0.5) FROM obs), x))) FROM queries;
SELECT 'S4 scalar with a constant state (aux data: one lookup for 300 rows):', d FROM delta;

.print S4 the LRU holds 8 states: 8 states cycled twice = 8 readouts; 9 other states cycled twice = 18
CREATE TABLE many AS SELECT value AS k, (SELECT cmanp_condition('gp', x, y + value) FROM obs) AS s FROM generate_series(1, 17);
DELETE FROM snap; INSERT INTO snap SELECT key, value FROM json_each(cmanp_debug(), '$.counters');
SELECT count(cmanp_mean(s, 0.1)) FROM (SELECT s FROM many WHERE k <= 8 UNION ALL SELECT s FROM many WHERE k <= 8);
SELECT 'S4 8 states:', json_extract(d, '$.readouts_computed') FROM delta;
DELETE FROM snap; INSERT INTO snap SELECT key, value FROM json_each(cmanp_debug(), '$.counters');
SELECT count(cmanp_mean(s, 0.1)) FROM (SELECT s FROM many WHERE k > 8 UNION ALL SELECT s FROM many WHERE k > 8);
SELECT 'S4 9 states:', json_extract(d, '$.readouts_computed') FROM delta;
SELECT json_extract(cmanp_debug(), '$.cache.states');

.print S5 the TVF and the scalars are deterministic across statements and connections
CREATE TABLE ref AS SELECT q.qid, p.mean, p.std FROM states s JOIN queries q ON q.sensor = s.sensor, cmanp_predict(s.state, q.x) p;
.connection 1
.load @EXT@
SELECT cmanp_model_load('gp', '@SHARED@/golden/gp_cmanp.weights.safetensors');
.connection 0
SELECT count(*) FROM ref r JOIN queries q USING (qid) JOIN states s ON s.sensor = q.sensor
 WHERE r.mean = cmanp_mean(s.state, q.x) AND r.std = cmanp_std(s.state, q.x);
.connection 1
.connection 0
.connection close 1
