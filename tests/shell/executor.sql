-- The executor from SQL through the real sqlite3 shell: config, a fault-injected fallback, stats.
.headers off
.mode list
SELECT vecgraph_config('mode'), vecgraph_config('device', 'simulated'), vecgraph_config('mode', 'gpu');
SELECT vecgraph_config('fault_injection', '{"op": "similarity", "error": "oom", "every": 1}');
CREATE TABLE t(id INTEGER PRIMARY KEY, e BLOB);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000)
INSERT INTO t SELECT i, vec_f32(json_array(i % 10, i % 7, 1)) FROM s;
SELECT vec_topk(id, e, '[3, 3, 1]', 3, 'l2') FROM t;
SELECT op, backend, batches, items, failures, fallbacks, state, last_error FROM vecgraph_stats ORDER BY backend;
SELECT json_extract(vecgraph_explain('similarity', 1000, 3), '$.backend');
SELECT vecgraph_config('fault_injection', ''), vecgraph_config('mode', 'cpu');
SELECT json_extract(vecgraph_explain('similarity', 1000, 3), '$.reasons[0]');
SELECT vecgraph_config('speed', 11);
SELECT vecgraph_config('mode', 'fast');
-- vecgraph_explain without dims: dims is 1 (work = items x 4 bytes), and it says so.
SELECT json_extract(vecgraph_explain('similarity', 1000), '$.dims'), json_extract(vecgraph_explain('similarity', 1000), '$.work_units'), json_extract(vecgraph_explain('similarity', 1000), '$.reasons[0]');
SELECT vecgraph_explain('knn', 2.5);
-- oneTBB stays quiet (this case compares stderr too): 'threads' above the cores it runs is capped
-- to them, so the arena an index build runs on prints no "TBB Warning" on the host's stderr.
SELECT vecgraph_config('threads', 256) = json_extract(vecgraph_info(), '$.threads');
CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=3, metric=l2);
INSERT INTO idx(rowid, vector) SELECT id, e FROM t;
SELECT count(*) FROM idx WHERE vector MATCH '[3, 3, 1]' AND k = 3;
SELECT vecgraph_config('threads', 2.7);
