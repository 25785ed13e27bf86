//! Offsets committed inside a transaction (TxnOffsetCommit): pending per producer id until the
//! transaction's marker lands on the `__consumer_offsets` partition, then applied or dropped.
