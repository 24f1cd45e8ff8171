-- spread_activation through the real sqlite3 shell: the worked example, options, the batched form,
-- seeds from vector search, cache invalidation, a fault-injected device, and error messages.
.headers off
.mode list
CREATE TABLE edges(src INTEGER, dst INTEGER, weight REAL);
INSERT INTO edges VALUES (1,2,.8),(1,3,.4),(2,4,.5),(3,4,1.0),(4,1,.9),(4,5,.6);
.print '-- worked example (threshold 0.1)'
SELECT node, round(activation, 6), depth FROM spread_activation('edges', '[1]', '{"threshold": 0.1}');
.print '-- threshold 0.05, max_hops 10'
SELECT node, round(activation, 6), depth FROM spread_activation('edges', '[1]', '{"threshold": 0.05, "max_hops": 10}');
.print '-- normalize out'
SELECT node, round(activation, 6), depth FROM spread_activation('edges', '[1]', '{"threshold": 0.1, "normalize": "out"}');
.print '-- directed 0, max_hops 2'
SELECT node, round(activation, 6), depth FROM spread_activation('edges', '[1]', '{"threshold": 0.1, "directed": 0, "max_hops": 2}');
.print '-- batched: query column'
SELECT query, node, round(activation, 6), depth FROM spread_activation('edges', '[{"1": 1}, {"7": 0.5}, [4]]', '{"threshold": 0.1, "top_k": 3}');
.print '-- seeds from vector search'
CREATE TABLE docs(id INTEGER PRIMARY KEY, emb BLOB);
INSERT INTO docs VALUES (1, vec_f32('[1, 0]')), (2, vec_f32('[0.8, 0.6]')), (3, vec_f32('[0, 1]'));
SELECT node, round(activation, 6), depth FROM spread_activation('edges',
  (SELECT json_group_object(id, 1 - vec_distance(emb, '[1, 0]', 'cosine')) FROM docs WHERE vec_distance(emb, '[1, 0]', 'cosine') < 0.5),
  '{"max_hops": 1}');
.print '-- cache: an UPDATE is seen'
UPDATE edges SET weight = 2 WHERE src = 1 AND dst = 3;
SELECT node, round(activation, 6), depth FROM spread_activation('edges', 1, '{"max_hops": 1}');
.print '-- simulated device with an injected out-of-memory on every hop: same rows'
SELECT vecgraph_config('device', 'simulated'), vecgraph_config('mode', 'gpu');
SELECT vecgraph_config('fault_injection', '{"op":"spread","error":"oom","every":1}'), vecgraph_stats_reset();
SELECT node, round(activation, 6), depth FROM spread_activation('edges', 1, '{"max_hops": 1}');
SELECT op, backend, batches, failures, fallbacks, last_error FROM vecgraph_stats WHERE op = 'spread' ORDER BY backend;
SELECT vecgraph_config('fault_injection', ''), vecgraph_config('mode', 'auto'), vecgraph_config('device', 'none');
.print '-- errors'
SELECT * FROM spread_activation('edges');
SELECT * FROM spread_activation('nope', 1);
SELECT * FROM spread_activation('edges', 1, '{"decay": 1.5}');
SELECT * FROM spread_activation('edges', 1, '{"colour": "red"}');
SELECT * FROM spread_activation('edges', '[1, "x"]');
INSERT INTO edges VALUES (3, 4, -0.5);
SELECT * FROM spread_activation('edges', 1);
