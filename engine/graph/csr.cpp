// Placeholder until the spreading-activation engine lands.
