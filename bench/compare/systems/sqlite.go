package systems

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// SQLite is one SQLite database in WAL mode with synchronous=FULL (the WAL is fsynced at every
// commit), one row, and `UPDATE c SET v = v + 1` in autocommit. SQLite takes one writer at a
// time, so there is one connection, held by one writer process (the sqlite3 shell, which is the
// SQLite library behind a line protocol) that the clients take turns at; SIGKILL kills that
// process, as it would kill the application holding the database.
type SQLite struct {
	w pipeWriter
}

// NewSQLite returns SQLite.
func NewSQLite() *SQLite { return &SQLite{} }

func (s *SQLite) Name() string { return "SQLite WAL, FULL" }

func (s *SQLite) Start(ctx context.Context, dir string) error {
	bin, err := lookPath("sqlite3")
	if err != nil {
		return missing("sqlite3", "sqlite3")
	}
	db := filepath.Join(dir, "counter.db")
	s.w = pipeWriter{
		proc: &process{name: "sqlite3", log: filepath.Join(dir, "sqlite3.log")},
		cmd:  func() *exec.Cmd { return exec.Command(bin, "-batch", db) },
		init: s.init,
	}
	return s.w.start(ctx)
}

// init sets up the connection (synchronous is per connection), creates the table on the first
// start, and waits for the shell to answer.
func (s *SQLite) init(ctx context.Context) error {
	const setup = `PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS c (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO c VALUES (1, 0);
SELECT 'ready';
`
	return s.w.exchange(ctx, setup, func(line string) (bool, error) {
		switch line {
		case "ready":
			return true, nil
		case "wal":
			return false, nil
		}
		return false, fmt.Errorf("sqlite3 answered %q while setting up", line)
	})
}

func (s *SQLite) Increment(ctx context.Context, _ int, _ string) error {
	_, err := s.query(ctx, "UPDATE c SET v = v + 1 WHERE id = 1 RETURNING v;\n")
	return err
}

func (s *SQLite) Value(ctx context.Context) (int64, error) {
	return s.query(ctx, "SELECT v FROM c WHERE id = 1;\n")
}

// query runs a statement that answers one integer.
func (s *SQLite) query(ctx context.Context, sql string) (int64, error) {
	var v int64
	err := s.w.exchange(ctx, sql, intLine("sqlite3", &v))
	return v, err
}

func (s *SQLite) Kill() error { return s.w.kill() }

func (s *SQLite) Restart(ctx context.Context) error { return s.w.start(ctx) }

func (s *SQLite) Stop() error { return s.w.stop() }
