-- vecgraph demo: run with `make demo` (or: sqlite3 :memory: -cmd ".load build/release/vecgraph" ".read sql/demo.sql")
.headers on
.mode box

.print '== 1. What was loaded'
SELECT vecgraph_version() AS version,
       json_extract(vecgraph_info(), '$.simd') AS simd,
       json_extract(vecgraph_info(), '$.threads') AS threads,
       CASE json_type(vecgraph_info(), '$.cuda_compiled') WHEN 'true' THEN 'yes' ELSE 'no' END AS cuda_compiled,
       coalesce(json_extract(vecgraph_info(), '$.gpu.name'), 'none') AS gpu;

.print ''
.print '== 2. Vectors are float32 BLOBs (as in sqlite-vec) or JSON arrays'
SELECT vec_json(vec_f32('[0.5, -1, 2]')) AS round_trip,
       vec_dims('[0.5, -1, 2]') AS dims,
       round(vec_norm('[3, 4]'), 3) AS norm,
       round(vec_similarity('[1, 0]', '[1, 1]'), 4) AS cosine,
       vec_distance('[0, 0]', '[3, 4]') AS l2;

.print ''
.print '== 3. A tiny document store with 4-d "embeddings"'
CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT, topic TEXT, emb BLOB);
INSERT INTO docs(id, title, topic, emb) VALUES
  (1, 'Brewing espresso at home',      'coffee',  vec_f32('[0.90, 0.10, 0.00, 0.05]')),
  (2, 'Grinding beans for pour-over',  'coffee',  vec_f32('[0.80, 0.25, 0.05, 0.00]')),
  (3, 'Green tea temperatures',        'tea',     vec_f32('[0.55, 0.70, 0.00, 0.10]')),
  (4, 'Training for a first 10k',      'running', vec_f32('[0.05, 0.00, 0.95, 0.20]')),
  (5, 'Marathon fuelling: caffeine?',  'running', vec_f32('[0.40, 0.05, 0.80, 0.10]')),
  (6, 'Cold brew in summer',           'coffee',  vec_f32('[0.85, 0.05, 0.10, 0.30]'));

.print 'top 3 by cosine distance to a "coffee" query:'
SELECT d.id, d.title, round(json_extract(h.value, '$[1]'), 4) AS distance
FROM json_each((SELECT vec_topk(id, emb, '[1, 0.1, 0, 0.1]', 3) FROM docs)) AS h
JOIN docs AS d ON d.id = json_extract(h.value, '$[0]');

.print 'filter first, then rank (never short): only topic = running'
SELECT vec_topk(id, emb, '[1, 0.1, 0, 0.1]', 3, 'l2') AS running_top3 FROM docs WHERE topic = 'running';

.print 'a compact copy: int8 elements (a quarter of the bytes), ranked by the same query'
CREATE TABLE docs_small AS SELECT id, vec_quantize_int8(emb) AS e8 FROM docs;
SELECT vec_type(vec_int8(e8)) AS type, length(e8) AS bytes, vec_json(vec_int8(e8)) AS elements
  FROM docs_small WHERE id = 1;
SELECT vec_topk(id, e8, vec_quantize_int8('[1, 0.1, 0, 0.1]'), 3, 'l2') AS int8_top3 FROM docs_small;

.print ''
.print '== 4. An HNSW index that lives in the database (transactional, persistent)'
CREATE VIRTUAL TABLE docs_idx USING hnsw_knn(dim=4, metric=cosine, m=8);
INSERT INTO docs_idx(rowid, vector) SELECT id, emb FROM docs;
SELECT d.id, d.title, round(i.distance, 4) AS distance
FROM docs_idx AS i JOIN docs AS d ON d.id = i.rowid
WHERE i.vector MATCH '[0.1, 0, 1, 0.1]' AND i.k = 3;
.print 'filtered k-NN (rowid IN a subquery): never short, exact when the filter is selective'
SELECT rowid, round(distance, 4) AS distance FROM docs_idx
WHERE vector MATCH '[0.1, 0, 1, 0.1]' AND k = 3 AND rowid IN (SELECT id FROM docs WHERE topic = 'coffee');
.print 'a vector table: metadata filtered inside the search, a partition key, an auxiliary column;'
.print 'its walks read 8-bit codes of the vectors (quantizer=int8) and re-score the best 2·k exactly'
CREATE VIRTUAL TABLE notes USING hnsw_knn(
  embedding float[4] distance_metric=cosine quantizer=int8 rescore=2,
  topic text, year integer, user_id integer partition key, +title text);
INSERT INTO notes(rowid, embedding, topic, year, user_id, title)
SELECT id, emb, topic, 2019 + id, 1 + id % 2, title FROM docs;
.print 'metadata-filtered k-NN: topic and year are tested during the graph walk (never short)'
SELECT rowid, title, year, round(distance, 4) AS distance FROM notes
WHERE embedding MATCH '[1, 0.1, 0, 0.1]' AND k = 3 AND topic IN ('coffee', 'tea') AND year >= 2021;
.print 'partitioned k-NN: only the notes of user 2, as ORDER BY distance LIMIT'
SELECT rowid, title, round(distance, 4) AS distance FROM notes
WHERE embedding MATCH '[1, 0.1, 0, 0.1]' AND user_id = 2 ORDER BY distance LIMIT 2;
SELECT json_extract(vecgraph_index_info('notes'), '$.rows', '$.partitions', '$.vector.quantizer', '$.last_query.strategy') AS info;
.print 'batched k-NN: every query of a table in one statement (hnsw_knn_batch)'
CREATE TABLE queries(id INTEGER PRIMARY KEY, label TEXT, embedding BLOB);
INSERT INTO queries VALUES (1, 'coffee', vec_f32('[1, 0.1, 0, 0.1]')), (2, 'running', vec_f32('[0.1, 0, 1, 0.1]'));
SELECT q.label AS query, b.rank, d.title, round(b.distance, 4) AS distance
FROM hnsw_knn_batch('docs_idx', 'queries', 'embedding', 2) AS b
JOIN queries AS q ON q.id = b.query_id
JOIN docs AS d ON d.id = b.rowid
ORDER BY b.query_id, b.rank;
.print 'a rolled-back insert leaves no trace; vecgraph_check audits the stored graph'
BEGIN;
INSERT INTO docs_idx(rowid, vector) VALUES (99, '[0.1, 0, 1, 0.1]');
SELECT 'inside the transaction' AS seen, rowid FROM docs_idx WHERE vector MATCH '[0.1, 0, 1, 0.1]' AND k = 1;
ROLLBACK;
SELECT 'after ROLLBACK' AS seen, rowid FROM docs_idx WHERE vector MATCH '[0.1, 0, 1, 0.1]' AND k = 1;
SELECT vecgraph_check('docs_idx') AS check_result;

.print ''
.print '== 5. Associative recall: what is similar, then what is associated'
CREATE TABLE links(src INTEGER, dst INTEGER, weight REAL);
INSERT INTO links VALUES (1, 2, 0.9), (2, 6, 0.7), (6, 5, 0.6), (5, 4, 0.8), (3, 1, 0.3), (4, 3, 0.2);
.print 'the worked example of docs/spread_activation.md: seeds [1], threshold 0.1'
CREATE TABLE ex(src INTEGER, dst INTEGER, weight REAL);
INSERT INTO ex VALUES (1,2,.8), (1,3,.4), (2,4,.5), (3,4,1.0), (4,1,.9), (4,5,.6);
SELECT node, round(activation, 6) AS activation, depth FROM spread_activation('ex', '[1]', '{"threshold": 0.1}');
.print 'seeds = the 2 nearest documents to a "running" query, weighted by similarity; then follow the links'
SELECT a.node, d.title, round(a.activation, 4) AS activation, a.depth
FROM spread_activation('links',
       (SELECT json_group_object(rowid, 1 - distance) FROM docs_idx WHERE vector MATCH '[0.1, 0, 1, 0.1]' AND k = 2),
       '{"decay": 0.5, "threshold": 0.05, "max_hops": 3}') AS a
JOIN docs AS d ON d.id = a.node;

.print ''
.print '== 6. The hybrid executor: every batch is dispatched, measured and explained'
CREATE TABLE big(id INTEGER PRIMARY KEY, emb BLOB);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50000)
INSERT INTO big SELECT i, vec_f32(json_array(sin(i), cos(i), sin(i * 0.5), cos(i * 0.25), (i % 100) / 100.0, 1)) FROM s;
SELECT vecgraph_stats_reset() AS reset;
SELECT vec_topk(id, emb, '[0.1, 0.2, 0.3, 0.4, 0.5, 1]', 3, 'l2') AS cpu_answer FROM big;

.print 'a simulated GPU (no hardware needed) that fails every 2nd call with out-of-memory:'
SELECT vecgraph_config('device', 'simulated') AS device,
       vecgraph_config('simulated_device', '{"launch_us": 15, "gbps": 400}') AS model,
       vecgraph_config('gpu_min_batch', 4096) AS gpu_min_batch,
       vecgraph_config('fault_injection', '{"op": "similarity", "error": "oom", "every": 2}') AS faults;
SELECT vec_topk(id, emb, '[0.1, 0.2, 0.3, 0.4, 0.5, 1]', 3, 'l2') AS same_answer FROM big;
SELECT vec_topk(id, emb, '[0.1, 0.2, 0.3, 0.4, 0.5, 1]', 3, 'l2') AS same_answer FROM big;
SELECT op, backend, batches, items, failures, fallbacks, round(mean_us, 1) AS mean_us, state, last_error
FROM vecgraph_stats;

.print 'why would a batch of 200k rows x 768 dims go where it goes?'
SELECT json_extract(vecgraph_explain('similarity', 200000, 768), '$.backend') AS backend,
       json_extract(vecgraph_explain('similarity', 200000, 768), '$.reasons') AS reasons;
SELECT vecgraph_config('fault_injection', '') AS faults_cleared, vecgraph_config('device', 'none') AS device;
