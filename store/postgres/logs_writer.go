package postgres

// logs is store.Logs on PostgreSQL.
type logs struct {
	db *DB
}

func newLogs(db *DB) *logs { return &logs{db: db} }

// close waits for accepted writes to commit.
func (l *logs) close() error { return nil }
