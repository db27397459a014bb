-- default_model.sql - the shipped models/default.safetensors is the trained
-- model the README reports: its fingerprint, its configuration, and its
-- benchmark metric on the first 300 tasks of gp_rbf and gp_matern (the README
-- gives all 3,000 tasks: 1.3038 and 0.8761).  Replacing the default model
-- changes this file's expected output on purpose; update it together with the
-- README's numbers.
.load @EXT@
.headers off
SELECT cmanp_model_load('default', '@SOURCE@/models/default.safetensors');
SELECT json_extract(cmanp_model_info('default'), '$.n_params'),
       json_extract(cmanp_model_info('default'), '$.config.d_model'),
       json_extract(cmanp_model_info('default'), '$.config.num_layers'),
       json_extract(cmanp_model_info('default'), '$.config.num_latents');
ATTACH 'file:@SHARED@/evalsets/gp_rbf.sqlite?mode=ro' AS rbf;
ATTACH 'file:@SHARED@/evalsets/gp_matern.sqlite?mode=ro' AS mat;

.print tar_ll on the first 300 tasks, and whether it clears the targets (1.30 / 0.85)
SELECT 'gp_rbf', printf('%.4f', r ->> '$.tar_ll'), r ->> '$.tar_ll' >= 1.30
  FROM (SELECT cmanp_evaluate('default', 'SELECT task, role, x, y FROM rbf.points WHERE task < 300 ORDER BY task') AS r);
SELECT 'gp_matern', printf('%.4f', r ->> '$.tar_ll'), r ->> '$.tar_ll' >= 0.85
  FROM (SELECT cmanp_evaluate('default', 'SELECT task, role, x, y FROM mat.points WHERE task < 300 ORDER BY task') AS r);

.print the context matters: scored given one uninformative point (0, 0) instead of each task's
.print context rows, the same targets lose more than 1 nat each on average (about 6.7)
SELECT 'gp_rbf', (SELECT cmanp_evaluate('default', 'SELECT task, role, x, y FROM rbf.points WHERE task < 300 ORDER BY task') ->> '$.tar_ll')
               - (SELECT avg(ll) FROM (
                    SELECT (SELECT avg(cmanp_logprob(s.state, p.x, p.y)) FROM rbf.points p
                             WHERE p.task = t.task AND p.role = 'target') AS ll
                      FROM (SELECT task FROM rbf.tasks WHERE task < 300) t,
                           (SELECT cmanp_condition('default', 0.0, 0.0) AS state) s)) > 1.0;
