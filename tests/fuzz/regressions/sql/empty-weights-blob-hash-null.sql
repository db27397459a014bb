INSERT INTO cmanp_models(name, weights) VALUES ('e', x'');
SELECT cmhp_model_info('e');
SELECT cmanp_model_info('e');
SELECT cmanp_condition('e', x, y) FROM t;
