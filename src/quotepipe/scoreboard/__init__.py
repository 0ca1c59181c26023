"""Per-symbol metrics and scores from fills, and the allocator that turns scores into weights."""
