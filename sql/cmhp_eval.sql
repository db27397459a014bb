-- cmhp_eval.sql - the README metric of a Hawkes evaluation set
-- (/work/shared/tpp/*.sqlite) computed entirely in SQL with the window query:
-- every event's history (the events before it in its sequence) becomes a CMHP
-- state through cmhp_condition(...) OVER (... 1 PRECEDING), and
-- cmhp_logprob(state, t, mark) scores the event.  Printed: the mean negative
-- log-likelihood per event over events with i >= 1 (the first event of a
-- sequence has no history: NULL state, NULL logprob), the oracle's over the
-- same events (the set's oracle_ll column) and the excess.
--
-- Parameters (sqlite3 shell, .parameter set):
--   :model  model file (models/cmhp_<set>.safetensors, or ..._paper)
--   :set    evaluation set (/work/shared/tpp/<set>.sqlite)
--   :nseq   optional: only the first :nseq sequences (by seq); all when unset
--
-- Run from the repository root after building (build/cmanp.so):
--   sqlite3 -cmd '.load ./build/cmanp' \
--           -cmd '.parameter set :model models/cmhp_hawkes1.safetensors' \
--           -cmd '.parameter set :set /work/shared/tpp/hawkes1.sqlite' < sql/cmhp_eval.sql
--
-- The numbers equal `cmhp eval MODEL SET` (batched prefix scan) to float32
-- rounding (tests/sql/cmhp_eval.c E3 runs this file's statements).
.bail on
.headers off
.mode list
SELECT printf('model %s, fingerprint %s', :model, cmanp_model_load('eval', :model));
ATTACH :set AS ev;
SELECT printf('set %s', :set);
.headers on
.mode column
SELECT json_extract(cmhp_model_info('eval'), '$.variant') AS variant,
       count(DISTINCT seq) AS sequences,
       count(*) AS events,
       printf('%.4f', avg(-ll)) AS model_nll,
       printf('%.4f', avg(-oracle_ll)) AS oracle_nll,
       printf('%+.4f', avg(-ll) - avg(-oracle_ll)) AS excess,
       avg(-ll) AS model_nll_exact,
       avg(-oracle_ll) AS oracle_nll_exact
  FROM (SELECT seq, i, oracle_ll,
               cmhp_logprob(cmhp_condition('eval', t, mark)
                              OVER (PARTITION BY seq ORDER BY t
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                            t, mark) AS ll
          FROM ev.events
         WHERE seq IN (SELECT seq FROM ev.sequences ORDER BY seq LIMIT coalesce(:nseq, -1)))
 WHERE i >= 1;
