// Placeholder until the HNSW engine lands.
