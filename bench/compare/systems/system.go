// Package systems starts the counter stores that the comparison measures, each as a real server
// process on 127.0.0.1 with its data in a directory of its own, and increments one hot counter in
// each the way a typical client of that store would.
//
// Every store implements System. One file holds each: tallyd (with or without idempotency keys),
// Redis with an append-only file, PostgreSQL, SQLite in WAL mode, a JSON file rewritten with
// write-temp-fsync-rename, an append-only event log, and Memcached. The programs come from Debian
// packages, except the JSON file's writer and the event log's server, which are the comparison's
// own binary; Start returns an error wrapping ErrMissing when a program is not installed.
package systems

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// System is one counter store under test: a server process holding one counter, and its clients.
//
// Increment, Value, Kill and Restart may be called only between Start and Stop. Increment is
// called concurrently with distinct clients, and concurrently with Kill and Restart; calls with
// the same client never overlap.
type System interface {
	// Name is the store's label in the tables, e.g. "Redis AOF always".
	Name() string
	// Start starts the server with its data under dir (an empty directory it owns), listening on
	// 127.0.0.1 only, and creates the counter with the value 0. It returns once the server answers.
	Start(ctx context.Context, dir string) error
	// Increment adds 1 to the counter on the connection of client (0, 1, ...) and returns nil once
	// the store acknowledged it. id names the increment: a retry of the same increment passes the
	// same id; a store with idempotency keys sends it, the others ignore it. A call that returns an
	// error may or may not have been applied.
	Increment(ctx context.Context, client int, id string) error
	// Value reads the counter.
	Value(ctx context.Context) (int64, error)
	// Kill SIGKILLs the server's processes and returns once they have exited.
	Kill() error
	// Restart starts the server again on the same data and returns once it answers.
	Restart(ctx context.Context) error
	// Stop closes the clients and stops the server. The data stays in dir.
	Stop() error
}

// ErrMissing is wrapped by the error of Start when a program the store needs is not installed.
var ErrMissing = errors.New("program not installed")

// missing returns the error for a program that was not found, naming its Debian package.
func missing(program, debianPackage string) error {
	return fmt.Errorf("%s: %w (apt-get install %s)", program, ErrMissing, debianPackage)
}

// lookPath finds program in $PATH or else in one of dirs.
func lookPath(program string, dirs ...string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := d + "/" + program
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on at the moment.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// unprivileged returns the credentials of the first of names that exists on this machine when the
// comparison runs as root (some servers refuse to run as root), and nil otherwise.
func unprivileged(names ...string) (*syscall.Credential, *user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	for _, n := range names {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, u, nil
	}
	return nil, nil, fmt.Errorf("running as root and none of the users %v exists to run the server as", names)
}
