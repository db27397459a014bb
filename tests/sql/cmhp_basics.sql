-- cmhp_basics.sql - the CMHP SQL surface on event logs (seq, t, mark).
-- Spec: ext/cmhp_sql.c Q1-Q7, Q9; ext/cmhp_vtab.c N1-N5.
.load @EXT@
.headers off
.print Q1 cmanp_model_load dispatches on the config: CMHP and CMANP models share the registry
SELECT length(cmanp_model_load('h1', '@SOURCE@/models/cmhp_hawkes1.safetensors'));
SELECT length(cmanp_model_load('hm', '@SOURCE@/models/cmhp_hawkes_meta_paper.safetensors'));
SELECT length(cmanp_model_load('gp', '@SHARED@/golden/small_cmanp.weights.safetensors'));
SELECT name, json_extract(config, '$.model'), n_params > 0 FROM cmanp_models ORDER BY name;
SELECT json_extract(cmhp_model_info('h1'), '$.variant'), json_extract(cmhp_model_info('h1'), '$.marks'),
       json_extract(cmhp_model_info('hm'), '$.variant'), json_extract(cmhp_model_info('hm'), '$.marks'),
       json_extract(cmhp_model_info('hm'), '$.state_bytes');

-- Two short event logs with 3 marks, and hawkes1's first sequences.
CREATE TABLE ev(seq INTEGER, t REAL, mark INTEGER);
INSERT INTO ev SELECT value % 2, 0.37 * value + 0.05 * (value % 7), (value * 5) % 3 FROM generate_series(1, 120);
ATTACH '@SHARED@/tpp/hawkes1.sqlite' AS h;

.print Q2 cmhp_condition: one constant-size state per sequence
CREATE TABLE st AS SELECT seq, cmhp_condition('hm', t, mark) AS s FROM ev GROUP BY seq;
SELECT seq, json_extract(cmhp_state_info(s), '$.events'), printf('%.2f', json_extract(cmhp_state_info(s), '$.t_last')),
       length(s), json_extract(cmhp_state_info(s), '$.model') FROM st ORDER BY seq;
SELECT cmhp_condition('hm', t, mark) IS NULL FROM ev WHERE seq = 7;
SELECT json_extract(cmhp_state_info(cmhp_condition('hm', t, mark)), '$.events') FROM
  (SELECT t, mark FROM ev WHERE seq = 0 UNION ALL SELECT NULL, 1 UNION ALL SELECT 3.0, NULL);

.print Q5 cmhp_logprob: log density of the next event (time, mark); NULLs give NULL; at t_last -Inf
SELECT seq, printf('%.5f', cmhp_logprob(s, json_extract(cmhp_state_info(s), '$.t_last') + 0.5, 1)) FROM st ORDER BY seq;
SELECT cmhp_logprob(NULL, 1, 0) IS NULL, cmhp_logprob(s, NULL, 0) IS NULL, cmhp_logprob(s, 50, NULL) IS NULL,
       cmhp_logprob(s, json_extract(cmhp_state_info(s), '$.t_last'), 0) FROM st WHERE seq = 0;

.print Q3 cmhp_update (first half + second half) == cmhp_condition (all)
SELECT seq, abs(cmhp_logprob(u, 50, 2) - cmhp_logprob(s, 50, 2)) < 1e-5,
       json_extract(cmhp_state_info(u), '$.events')
  FROM (SELECT e.seq, cmhp_update((SELECT cmhp_condition('hm', t, mark) FROM ev WHERE seq = e.seq AND t < 20), e.t, e.mark) AS u
          FROM ev e WHERE e.t >= 20 GROUP BY e.seq) JOIN st USING (seq) ORDER BY seq;

.print Q3 events older than the state's last event may arrive late: the last event time stays
SELECT json_extract(cmhp_state_info(u), '$.events'), printf('%.2f', json_extract(cmhp_state_info(u), '$.t_last'))
  FROM (SELECT cmhp_update(s, 1.0, 0) AS u FROM st WHERE seq = 0);

.print Q4 cmhp_merge of time-interleaved shards == cmhp_condition of all
SELECT abs(cmhp_logprob(m, 50, 0) - cmhp_logprob(s, 50, 0)) < 1e-5, json_extract(cmhp_state_info(m), '$.events')
  FROM (SELECT cmhp_merge(x) AS m FROM (SELECT cmhp_condition('hm', t, mark) AS x FROM ev WHERE seq = 1 GROUP BY CAST(t * 10 AS INTEGER) % 3)),
       st WHERE st.seq = 1;
SELECT cmhp_merge(x) IS NULL FROM (SELECT NULL AS x);

.print Q2 window: each event gets the state of its history (NULL for the first)
CREATE TABLE hist AS
  SELECT seq, i, t, mark, cmhp_condition('h1', t, mark) OVER (PARTITION BY seq ORDER BY i
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS s
    FROM h.events WHERE seq < 3;
SELECT seq, count(*), count(s), sum(s IS NULL AND i = 0) FROM hist GROUP BY seq ORDER BY seq;
SELECT count(*), max(abs(cmhp_logprob(s, t, mark) -
        cmhp_logprob((SELECT cmhp_condition('h1', b.t, b.mark) FROM h.events b WHERE b.seq = hist.seq AND b.i < hist.i), t, mark))) < 1e-9
  FROM hist WHERE i IN (1, 2, 10, 50);
.print Q2 sliding frame (ROWS 20 PRECEDING) == recomputation
SELECT count(*), max(abs(cmhp_logprob(w, t + 1, 0) - cmhp_logprob(r, t + 1, 0))) < 1e-4 FROM (
  SELECT i, t, w, (SELECT cmhp_condition('h1', b.t, b.mark) FROM h.events b WHERE b.seq = 0 AND b.i BETWEEN x.i - 20 AND x.i) AS r
    FROM (SELECT i, t, cmhp_condition('h1', t, mark) OVER (ORDER BY i ROWS 20 PRECEDING) AS w FROM h.events WHERE seq = 0) x
   WHERE i % 10 = 5);
.print Q2 a frame of the last 3 events (removals; empty for the first event of each sequence)
SELECT seq, sum(w IS NULL), max(json_extract(cmhp_state_info(w), '$.events')),
       max(abs(cmhp_logprob(w, t, mark) - cmhp_logprob(r, t, mark))) < 1e-4 FROM (
  SELECT seq, i, t, mark, w, (SELECT cmhp_condition('h1', b.t, b.mark) FROM h.events b
                               WHERE b.seq = x.seq AND b.i BETWEEN x.i - 3 AND x.i - 1) AS r
    FROM (SELECT seq, i, t, mark, cmhp_condition('h1', t, mark) OVER (PARTITION BY seq ORDER BY i
                   ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING) AS w FROM h.events WHERE seq < 2) x)
 GROUP BY seq ORDER BY seq;
.print the README metric through SQL (hawkes1, sequences 0-2, events i >= 1): model vs oracle
SELECT count(*), printf('%.4f', -avg(cmhp_logprob(s, t, mark))),
       printf('%.4f', -avg((SELECT oracle_ll FROM h.events o WHERE o.seq = hist.seq AND o.i = hist.i)))
  FROM hist WHERE i >= 1;

.print N2 cmhp_next_time: mean, median and central interval in absolute time
SELECT seq, printf('%.4f', mean), printf('%.4f', median), printf('%.4f', lower), printf('%.4f', upper), level,
       lower < median AND median < upper AND lower > json_extract(cmhp_state_info(s), '$.t_last')
  FROM st, cmhp_next_time(st.s) ORDER BY seq;
SELECT level, upper - lower < (SELECT upper - lower FROM cmhp_next_time((SELECT s FROM st WHERE seq = 0)))
  FROM cmhp_next_time((SELECT s FROM st WHERE seq = 0), 0.5);
SELECT count(*) FROM cmhp_next_time(NULL);

.print N3 cmhp_next_mark: one row per mark, probabilities sum to 1
SELECT mark, printf('%.5f', prob) FROM cmhp_next_mark((SELECT s FROM st WHERE seq = 1));
SELECT seq, printf('%.12f', sum(prob)), count(*) FROM st, cmhp_next_mark(st.s) GROUP BY seq ORDER BY seq;

.print N4 cmhp_sample: n simulated events, each folded into a private copy; reproducible by seed
SELECT k, printf('%.4f', t), mark FROM cmhp_sample((SELECT s FROM st WHERE seq = 0), 5, 7);
SELECT count(*), min(t) > (SELECT json_extract(cmhp_state_info(s), '$.t_last') FROM st WHERE seq = 0)
  FROM cmhp_sample((SELECT s FROM st WHERE seq = 0), 300, 1);
SELECT (SELECT group_concat(t || ':' || mark) FROM cmhp_sample((SELECT s FROM st WHERE seq = 0), 50, 3)) =
       (SELECT group_concat(t || ':' || mark) FROM cmhp_sample((SELECT s FROM st WHERE seq = 0), 50, 3)),
       (SELECT group_concat(t) FROM cmhp_sample((SELECT s FROM st WHERE seq = 0), 50, 3)) !=
       (SELECT group_concat(t) FROM cmhp_sample((SELECT s FROM st WHERE seq = 0), 50, 4));
SELECT count(*), sum(t > prev) FROM (SELECT t, lag(t, 1, 0) OVER (ORDER BY k) AS prev
                                     FROM cmhp_sample((SELECT s FROM st WHERE seq = 1), 200, 11));
SELECT count(*) FROM cmhp_sample((SELECT s FROM st WHERE seq = 0), 0);
-- Simulating hawkes1 from (almost) the empty history over the training window (0, 100]:
-- about as many events as the data (97.8 per sequence; the count's sd is ~50).
SELECT printf('%.0f', avg(c)) FROM (SELECT sd, (SELECT count(*) FROM cmhp_sample(e0.s, 250, sd) x WHERE x.t <= 100) AS c
  FROM (SELECT cmhp_condition('h1', 0.001, 0) AS s) e0, (SELECT value AS sd FROM generate_series(1, 20)));

.print Q9 models are parsed once per connection
SELECT json_extract(cmhp_debug(), '$.counters.models_parsed'), json_extract(cmhp_debug(), '$.cache.models');
