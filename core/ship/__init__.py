"""The log shipper behind `sherlog ship`: tail files (by inode and offset) or the journal,
batch, deliver to the HTTP intake with retries, spool to disk while the server is down,
and resume from a persisted cursor. See `core.ship.shipper` for the exactly-once argument."""
