package systems

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is a PostgreSQL cluster made with initdb in the data directory, with
// synchronous_commit on (a commit is acknowledged once its WAL is flushed), and
// `UPDATE c SET v = v + 1 WHERE id = $1` in autocommit over a pgx pool with a connection per
// client. With Rows > 1 the counter is that many rows, each increment updating one at random,
// and its value is their sum. As root, the server runs as the user postgres (or nobody), since
// PostgreSQL refuses to run as root.
type Postgres struct {
	Rows int

	proc *process
	pool *pgxpool.Pool
}

// NewPostgres returns Postgres with the counter spread over rows rows.
func NewPostgres(rows int) *Postgres { return &Postgres{Rows: rows} }

func (p *Postgres) Name() string {
	if p.Rows == 1 {
		return "PostgreSQL, 1 row"
	}
	return fmt.Sprintf("PostgreSQL, %d rows", p.Rows)
}

// postgresDirs are where Debian's postgresql package puts the server's programs, newest first.
func postgresDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	return dirs
}

// version is the major version in a path /usr/lib/postgresql/N/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func (p *Postgres) Start(ctx context.Context, dir string) error {
	postgres, err1 := lookPath("postgres", postgresDirs()...)
	initdb, err2 := lookPath("initdb", filepath.Dir(postgres))
	if err1 != nil || err2 != nil {
		return missing("postgres", "postgresql")
	}
	cred, _, err := unprivileged("postgres", "nobody")
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "pgdata")
	if cred != nil {
		// The server's user must reach its directory: its parent (a temporary directory, made
		// private) gets others' search permission, and the directory is the user's.
		parent := filepath.Dir(dir)
		st, err := os.Stat(parent)
		if err != nil {
			return err
		}
		if err := os.Chmod(parent, st.Mode().Perm()|0o011); err != nil {
			return err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	asUser := func(cmd *exec.Cmd) *exec.Cmd {
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		return cmd
	}
	logPath := filepath.Join(dir, "postgres.log")
	init := asUser(exec.CommandContext(ctx, initdb, "-D", data, "-U", "bench", "--auth=trust", "-E", "UTF8", "--locale=C"))
	if out, err := init.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	p.proc = &process{
		name: "postgres",
		log:  logPath,
		stop: syscall.SIGINT, // fast shutdown
		newCmd: func() *exec.Cmd {
			return asUser(exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port),
				"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
				"-c", "synchronous_commit=on", "-c", "fsync=on", "-c", "max_connections=200"))
		},
	}
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=bench dbname=postgres sslmode=disable connect_timeout=2", port))
	if err != nil {
		return err
	}
	cfg.MaxConns = 128
	if p.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	if err := p.Restart(ctx); err != nil {
		return err
	}
	if _, err := p.pool.Exec(ctx, "CREATE TABLE c (id int PRIMARY KEY, v bigint NOT NULL)"); err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, "INSERT INTO c SELECT generate_series(0, $1::int - 1), 0", p.Rows)
	return err
}

func (p *Postgres) Increment(ctx context.Context, _ int, _ string) error {
	row := 0
	if p.Rows > 1 {
		row = rand.IntN(p.Rows)
	}
	tag, err := p.pool.Exec(ctx, "UPDATE c SET v = v + 1 WHERE id = $1", row)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("postgres: UPDATE changed %d rows", tag.RowsAffected())
	}
	return err
}

func (p *Postgres) Value(ctx context.Context) (int64, error) {
	var v int64
	err := p.pool.QueryRow(ctx, "SELECT sum(v)::bigint FROM c").Scan(&v)
	return v, err
}

// Kill SIGKILLs the postmaster and its backends at once, as a crash of the server would.
func (p *Postgres) Kill() error { return p.proc.kill() }

func (p *Postgres) Restart(ctx context.Context) error {
	if err := p.proc.start(); err != nil {
		return err
	}
	return p.proc.waitReady(ctx, func(ctx context.Context) error { return p.pool.Ping(ctx) })
}

func (p *Postgres) Stop() error {
	if p.pool != nil {
		p.pool.Close()
	}
	return p.proc.shutdown()
}
