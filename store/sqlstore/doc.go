// Package sqlstore implements store.Store once, over database/sql, for every
// SQL database sluice supports. store/sqlite and store/postgres open the
// database, apply their migrations and pass a Dialect that holds the few
// differences: placeholders, row locks, retryable errors and how a commit
// notifies other processes.
//
// Why one implementation: the semantics (fencing, idempotent creation,
// readiness promotion, retries) are the hard part and must be identical on
// both databases; writing them once means the conformance suite tests one
// piece of logic on two engines instead of two diverging copies.
//
// Locking: transactions take row locks in the order attempts → task
// instances → runs → pipelines, and batches are sorted by id, so concurrent
// transactions on PostgreSQL do not deadlock in the common paths; the rare
// deadlock or serialization failure is retried as a whole.
//
// Times are stored as integer microseconds since the Unix epoch (UTC) in
// both databases, so comparisons and indexes behave the same on both.
package sqlstore
