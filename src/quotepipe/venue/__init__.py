"""The paper venue: intents in, fills and resting orders out, against the recorded market."""
