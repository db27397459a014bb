-- cmhp_errors.sql - error messages of the CMHP SQL surface: function, argument,
-- expected vs found.  Spec: ext/cmhp_sql.c Q8, ext/cmhp_vtab.c N5.
.load @EXT@
.headers off
.bail off
SELECT length(cmanp_model_load('hm', '@SOURCE@/models/cmhp_hawkes_meta_paper.safetensors'));
SELECT length(cmanp_model_load('gp', '@SHARED@/golden/small_cmanp.weights.safetensors'));
CREATE TABLE ev(t REAL, mark INTEGER);
INSERT INTO ev VALUES (0.5, 0), (1.25, 2), (2.0, 1), (3.5, 0);
CREATE TABLE st AS SELECT cmhp_condition('hm', t, mark) AS s FROM ev;

.print cmhp_condition: model, t, mark
SELECT cmhp_condition('nope', t, mark) FROM ev;
SELECT cmhp_condition(42, t, mark) FROM ev;
SELECT cmhp_condition('gp', t, mark) FROM ev;
SELECT cmhp_condition('hm', 'soon', mark) FROM ev;
SELECT cmhp_condition('hm', t, 3) FROM ev;
SELECT cmhp_condition('hm', t, 1.5) FROM ev;
SELECT cmhp_condition('hm', t, 'a') FROM ev;
SELECT cmhp_condition(CASE WHEN t < 2 THEN 'hm' ELSE 'gp' END, t, mark) FROM ev;
SELECT cmhp_condition('hm', t) FROM ev;

.print cmhp_logprob: state and time
SELECT cmhp_logprob(s, 3.0, 0) FROM st;
SELECT cmhp_logprob('abc', 5, 0);
SELECT cmhp_logprob(x'00112233', 5, 0);
SELECT cmhp_logprob((SELECT cmanp_condition('gp', 0.1, 0.2, 0.3)), 5, 0);
SELECT cmhp_logprob(substr(s, 1, 100), 5, 0) FROM st;
SELECT cmhp_logprob(s, 5, -1) FROM st;
SELECT cmhp_logprob(s, 'later', 0) FROM st;

.print CMANP functions refuse CMHP states and models (the message says which family each expects)
SELECT cmanp_mean(s, 0.1, 0.2) FROM st;
SELECT cmanp_condition('hm', 0.1, 0.2, 0.3);
SELECT cmanp_model_info('hm');
SELECT cmanp_train('hm_run', '{"init": "hm", "steps": 1}');
-- the same answers once the other family has the model in its cache
SELECT json_extract(cmhp_model_info('hm'), '$.model');
SELECT cmanp_model_info('hm');
SELECT json_extract(cmanp_model_info('gp'), '$.dim_x');
SELECT cmhp_model_info('gp');

.print cmhp_update / cmhp_merge
SELECT cmhp_update(CASE WHEN t < 2 THEN (SELECT s FROM st) ELSE (SELECT cmhp_condition('hm', 9, 0)) END, t + 10, mark) FROM ev;
SELECT cmhp_merge(x) FROM (SELECT s AS x FROM st UNION ALL SELECT 'text');

.print table-valued functions
SELECT * FROM cmhp_next_time();
SELECT * FROM cmhp_next_time((SELECT s FROM st), 1.5);
SELECT * FROM cmhp_next_time((SELECT s FROM st), 'wide');
SELECT * FROM cmhp_next_mark(x'00');
SELECT * FROM cmhp_sample((SELECT s FROM st));
SELECT * FROM cmhp_sample((SELECT s FROM st), -1);
SELECT * FROM cmhp_sample((SELECT s FROM st), 2.5);
SELECT * FROM cmhp_sample((SELECT s FROM st), 3, 'seed');
SELECT count(*) FROM cmhp_sample((SELECT s FROM st), NULL);

.print registry: a state whose model was removed; a file that is not a model; an empty weights BLOB
DELETE FROM cmanp_models WHERE name = 'hm';
SELECT cmhp_logprob(s, 5, 0) FROM st;
SELECT cmhp_model_info('gp');
SELECT cmanp_model_load('x', '@SOURCE@/README.md');
INSERT INTO cmanp_models(name, weights) VALUES ('empty', x'');
SELECT cmhp_model_info('empty');
SELECT cmanp_model_info('empty');
