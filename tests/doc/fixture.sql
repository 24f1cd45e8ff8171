-- tests/doc/fixture.sql — sample data for the SQL examples of docs/*.md. tests/doc_test.py runs it
-- on a fresh :memory: connection (extension loaded) before the first block of each docs/*.md file;
-- README.md creates its own tables. Small and deterministic: 4-d vectors with small integer
-- elements, so distances do not depend on the SIMD kernel set.
--
--   docs(id, title, topic, emb)   6 documents, emb a float32 BLOB (4 dims: coffee, tea, running, summer)
--   queries(id, embedding)        3 query vectors for hnsw_knn_batch (query 3 has no vector)
--   links(src, dst, weight)       5 weighted edges between document ids, for spread_activation
--   :q                            a query vector bound with .parameter set: '[1, 0, 0, 0]'
CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT, topic TEXT, emb BLOB);
INSERT INTO docs(id, title, topic, emb) VALUES
  (1, 'Brewing espresso at home',     'coffee',  vec_f32('[8, 1, 0, 1]')),
  (2, 'Grinding beans for pour-over', 'coffee',  vec_f32('[7, 2, 0, 0]')),
  (3, 'Green tea temperatures',       'tea',     vec_f32('[3, 7, 0, 1]')),
  (4, 'Training for a first 10k',     'running', vec_f32('[0, 0, 8, 2]')),
  (5, 'Marathon fuelling: caffeine?', 'running', vec_f32('[3, 0, 7, 1]')),
  (6, 'Cold brew in summer',          'coffee',  vec_f32('[7, 0, 1, 3]'));
CREATE TABLE queries(id INTEGER PRIMARY KEY, embedding BLOB);
INSERT INTO queries(id, embedding) VALUES (1, vec_f32('[1, 0, 0, 0]')), (2, vec_f32('[0, 1, 0, 0]')), (3, NULL);
CREATE TABLE links(src INTEGER, dst INTEGER, weight REAL);
INSERT INTO links(src, dst, weight) VALUES (1, 3, 0.5), (3, 5, 0.5), (2, 5, 0.25), (5, 4, 1.0), (6, 3, 0.75);
.parameter set :q '[1, 0, 0, 0]'
