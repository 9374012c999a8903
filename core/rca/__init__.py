"""Root-cause ranking: which entity most likely caused what the evidence shows."""
