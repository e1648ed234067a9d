package sqlstore

import "context"

// InTx runs fn in one write transaction of db, with exec running a
// statement in it, for tests of the transaction machinery.
func InTx(ctx context.Context, db *DB, fn func(exec func(query string, args ...any) error) error) error {
	return db.inTx(ctx, "test", func(t *txn) error {
		return fn(func(query string, args ...any) error {
			_, err := t.exec(query, args...)
			return err
		})
	})
}
