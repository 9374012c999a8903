"""Evidence gatherers: one module per source, each a bounded read."""
