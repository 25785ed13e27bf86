//! The transaction coordinator: transactional ids, their producer ids and epochs, and the
//! two-phase commit of a transaction (Ongoing → PrepareCommit/PrepareAbort → markers written →
//! CompleteCommit/CompleteAbort), as a state machine without I/O whose log is a
//! `__transaction_state` partition.
