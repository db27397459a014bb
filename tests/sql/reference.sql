-- reference.sql - the examples of docs/sql.md, executed.  Each block between
-- "-- @example NAME" and "-- @end" appears verbatim in docs/sql.md, followed
-- by its output from reference.expected (tests/sql/check_docs.py checks both).
.load @EXT@
.mode box
.cd @SHARED@/golden

.print example model_load
-- @example model_load
SELECT cmanp_model_load('gp', 'gp_cmanp.weights.safetensors') AS fingerprint;
-- @end
.cd @BUILD@

.print example models_table
-- @example models_table
SELECT name, length(weights) AS bytes, fingerprint, n_params FROM cmanp_models;
-- @end

.print example model_info
-- @example model_info
SELECT cmanp_model_info('gp') ->> '$.n_params' AS n_params,
       cmanp_model_info('gp') ->> '$.state_bytes' AS state_bytes,
       cmanp_model_info('gp') -> '$.config' ->> '$.num_layers' AS layers;
-- @end

.print example model_save
-- @example model_save
SELECT cmanp_model_save('gp', 'gp-copy.safetensors') AS bytes_written;
-- @end

.print example data
-- @example data
CREATE TABLE readings(sensor TEXT, x REAL, y REAL);
INSERT INTO readings VALUES
  ('a', -1.8, -0.62), ('a', -1.1, -0.05), ('a', -0.4, 0.48), ('a', 0.3, 0.71),
  ('a', 0.9, 0.35), ('a', 1.6, -0.30),
  ('b', -1.5, 0.20), ('b', -0.2, 0.05), ('b', 0.8, -0.40), ('b', 1.9, -0.10);
-- @end

.print example condition
-- @example condition
CREATE TABLE states AS
  SELECT sensor, cmanp_condition('gp', x, y) AS state FROM readings GROUP BY sensor;
SELECT sensor, length(state) AS bytes, cmanp_state_info(state) ->> '$.rows' AS rows FROM states;
-- @end

.print example condition_nulls
-- @example condition_nulls
SELECT cmanp_condition('gp', x, y) IS NULL AS no_rows FROM readings WHERE sensor = 'none';
SELECT cmanp_state_info(cmanp_condition('gp', x, CASE WHEN x > 0 THEN y END)) ->> '$.rows' AS rows
  FROM readings;
-- @end

.print example window
-- @example window
SELECT sensor, x,
       cmanp_state_info(cmanp_condition('gp', x, y) OVER w) ->> '$.rows' AS rows,
       printf('%.4f', cmanp_mean(cmanp_condition('gp', x, y) OVER w, 0.0)) AS mean_at_0
  FROM readings
WINDOW w AS (PARTITION BY sensor ORDER BY x ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
 ORDER BY sensor, x;
-- @end

.print example update
-- @example update
SELECT cmanp_state_info(cmanp_update(s.state, n.x, n.y)) ->> '$.rows' AS rows
  FROM states s JOIN (SELECT 2.0 AS x, -0.5 AS y UNION ALL SELECT -2.0, -0.7) n
 WHERE s.sensor = 'a';
-- @end

.print example merge
-- @example merge
SELECT cmanp_state_info(cmanp_merge(state)) ->> '$.rows' AS rows,
       printf('%.6f', cmanp_mean(cmanp_merge(state), 0.5)) AS merged,
       (SELECT printf('%.6f', cmanp_mean(cmanp_condition('gp', x, y), 0.5)) FROM readings) AS from_scratch
  FROM states;
-- @end

.print example state_info
.mode list
-- @example state_info
SELECT cmanp_state_info(state) FROM states WHERE sensor = 'b';
-- @end
.mode box

.print example scalars
-- @example scalars
SELECT sensor,
       printf('%.4f', cmanp_mean(state, 0.5)) AS mean,
       printf('%.4f', cmanp_std(state, 0.5)) AS std,
       printf('%.4f', cmanp_quantile(state, 0.9, 0.5)) AS q90,
       printf('%.4f', cmanp_logprob(state, 0.5, 0.6)) AS logp
  FROM states;
-- @end

.print example predict
-- @example predict
SELECT dim, printf('%.4f', mean) AS mean, printf('%.4f', std) AS std,
       printf('%.4f', lower) AS lower, printf('%.4f', upper) AS upper, level
  FROM cmanp_predict((SELECT state FROM states WHERE sensor = 'a'), 0.5);
-- @end

.print example predict_join
-- @example predict_join
CREATE TABLE queries(sensor TEXT, x REAL);
INSERT INTO queries VALUES ('a', -1.0), ('a', 1.0), ('b', 0.0);
SELECT q.sensor, q.x, printf('%.4f', p.mean) AS mean,
       printf('[%.3f, %.3f]', p.lower, p.upper) AS "90% interval"
  FROM states s JOIN queries q ON q.sensor = s.sensor,
       cmanp_predict(s.state, q.x, 0.9) p
 ORDER BY q.sensor, q.x;
-- @end

.print example predict_in
-- @example predict_in
SELECT s.sensor, p.a1 AS x, printf('%.4f', p.mean) AS mean, printf('%.4f', p.std) AS std
  FROM states s, cmanp_predict(s.state) p
 WHERE p.a1 IN (SELECT value / 2.0 FROM generate_series(-2, 2))
 ORDER BY s.sensor, x;
-- @end

.print example threads
-- @example threads
SELECT cmanp_threads() AS default_threads, cmanp_threads(2) AS now;
SELECT count(*) AS predictions, printf('%.6f', sum(p.mean)) AS total
  FROM states s, cmanp_predict(s.state) p
 WHERE p.a1 IN (SELECT value / 100.0 FROM generate_series(-100, 100));
SELECT cmanp_threads(1) AS back_to;
SELECT count(*) AS predictions, printf('%.6f', sum(p.mean)) AS total
  FROM states s, cmanp_predict(s.state) p
 WHERE p.a1 IN (SELECT value / 100.0 FROM generate_series(-100, 100));
-- @end

.print example caching
-- @example caching
CREATE TABLE shifted AS
  SELECT sensor, cmanp_condition('gp', x, y + 1) AS state FROM readings GROUP BY sensor;
SELECT cmanp_debug() ->> '$.counters.readouts_computed' AS before;
SELECT count(*) AS predictions
  FROM shifted s, generate_series(1, 100) g, cmanp_predict(s.state, g.value / 50.0 - 1) p;
SELECT cmanp_debug() ->> '$.counters.readouts_computed' AS after;
-- @end

.print example debug
-- @example debug
SELECT cmanp_version() AS version,
       cmanp_debug() ->> '$.compute_type' AS compute,
       cmanp_debug() ->> '$.state_format_version' AS state_format,
       cmanp_debug() ->> '$.counters.models_parsed' AS models_parsed;
-- @end

.print example multi_output
-- @example multi_output
SELECT cmanp_model_load('xy2', 'sql_xy2.safetensors') IS NOT NULL AS loaded;
SELECT json_array_length(cmanp_mean(s, 0.1, 0.2)) AS dims,
       typeof(cmanp_mean(s, 0.1, 0.2) ->> '$[0]') AS first
  FROM (SELECT cmanp_condition('xy2', x, -x, y, 2 * y) AS s FROM readings);
-- @end

.print example gp_tasks
-- @example gp_tasks
CREATE TABLE tasks(task INTEGER PRIMARY KEY, kernel TEXT NOT NULL, length REAL NOT NULL,
                   scale REAL NOT NULL, period REAL NULL);
CREATE TABLE points(task INTEGER NOT NULL, role TEXT NOT NULL, x REAL NOT NULL, y REAL NOT NULL);
INSERT INTO tasks SELECT DISTINCT task, 'rbf', length, scale, period FROM cmanp_gp_tasks('rbf', 100, 1);
INSERT INTO points SELECT task, role, x, y FROM cmanp_gp_tasks('rbf', 100, 1);
SELECT count(*) AS tasks, (SELECT count(*) FROM points) AS points FROM tasks;
-- @end

.print example evaluate
-- @example evaluate
SELECT cmanp_evaluate('gp', 'points') ->> '$.tasks' AS tasks,
       printf('%.4f', cmanp_evaluate('gp', 'points') ->> '$.tar_ll') AS tar_ll,
       printf('%.4f', cmanp_evaluate('gp', 'points') ->> '$.ctx_ll') AS ctx_ll;
-- @end

.print example evaluate_sql
-- @example evaluate_sql
SELECT count(*) AS tasks, printf('%.4f', avg(tar_ll)) AS tar_ll FROM (
  SELECT (SELECT avg(cmanp_logprob(c.state, p.x, p.y)) FROM points p
           WHERE p.task = c.task AND p.role = 'target') AS tar_ll
    FROM (SELECT task, cmanp_condition('gp', x, y) AS state
            FROM points WHERE role = 'context' GROUP BY task) c);
-- @end

.print example train
-- @example train
SELECT cmanp_train('mini', '{"config": {"dim_x": 1, "dim_y": 1, "d_model": 16, "emb_depth": 2,
                              "dim_feedforward": 32, "nhead": 2, "num_layers": 2, "num_latents": 8,
                              "num_latents_per_layer": 8, "bound_std": false},
                   "steps": 300, "batch": 8, "lr": 0.003, "checkpoint_every": 100, "until": 150}',
                   'SELECT task, x, y FROM points') ->> '$.step' AS step;
-- @end

.print example train_continue
-- @example train_continue
WITH run AS MATERIALIZED (SELECT cmanp_train('mini', '{}', 'SELECT task, x, y FROM points') AS s)
SELECT s ->> '$.start_step' AS start_step, s ->> '$.step' AS step, s ->> '$.complete' AS complete,
       s ->> '$.checkpoints' AS checkpoints FROM run;
SELECT name, step, steps, length(checkpoint) AS bytes FROM cmanp_checkpoints;
-- @end

.print example train_evaluate
-- @example train_evaluate
CREATE TABLE heldout AS SELECT task, role, x, y FROM cmanp_gp_tasks('rbf', 200, 2);
SELECT printf('%.2f', cmanp_evaluate('mini', 'heldout') ->> '$.tar_ll') AS mini,
       printf('%.2f', cmanp_evaluate('gp', 'heldout') ->> '$.tar_ll') AS gp;
-- @end
