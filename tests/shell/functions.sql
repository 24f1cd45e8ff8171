-- Vector functions and vec_topk through the real sqlite3 shell (`.load` of vecgraph.so).
.headers off
.mode list
SELECT vecgraph_version();
SELECT json_extract(vecgraph_info(), '$.version'), json_type(vecgraph_info(), '$.gpu') IN ('null', 'object');
SELECT vec_json(vec_f32('[1, 2.5, -3]')), vec_dims('[1,2,3]'), vec_norm('[3,4]');
SELECT vec_similarity('[1,0]', '[1,1]'), vec_distance('[0,0]', '[3,4]'), vec_distance('[1,2]', '[3,4]', 'dot');
SELECT vec_distance('[1,0]', '[0,0]', 'cosine');
SELECT quote(vec_norm(NULL));
CREATE TABLE docs(id INTEGER PRIMARY KEY, emb BLOB, tag TEXT);
INSERT INTO docs VALUES (1, vec_f32('[1, 0, 0]'), 'a'), (2, vec_f32('[0.9, 0.1, 0]'), 'b'),
  (3, vec_f32('[0, 1, 0]'), 'a'), (4, vec_f32('[0, 0, 1]'), 'b'), (5, NULL, 'a');
SELECT vec_topk(id, emb, '[1, 0, 0]', 2) FROM docs;
SELECT vec_topk(id, emb, '[1, 0, 0]', 10, 'l2') FROM docs WHERE tag = 'a';
SELECT tag, vec_topk(id, emb, '[0, 1, 0]', 1, 'dot') FROM docs GROUP BY tag;
SELECT vec_topk(id, emb, '[1, 0, 0]', 3) FROM docs WHERE 0;
-- errors: each names the function, the argument, what was expected and what was found
SELECT vec_dims(X'0102');
SELECT vec_similarity('[1,2,3]', '[1,2]');
SELECT vec_distance('[1]', '[2]', 'hamming');
SELECT vec_json('[1, nan]');
SELECT vec_topk(id, emb, '[1, 0, 0]', 0) FROM docs;
SELECT vec_topk(id, emb, '[1, 0]', 3) FROM docs;
SELECT vec_f32(7);
SELECT 'still usable', vec_dims('[1]');
