package systems

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Redis is redis-server with its append-only file on, and INCR on one key. Fsync is "always"
// (fsync before each reply) or "everysec" (written to the file before the reply, fsynced in the
// background once a second). Snapshots (RDB) are off. Each client holds one connection and speaks
// RESP directly.
type Redis struct {
	Fsync string // "always" or "everysec"

	addr  string
	proc  *process
	conns *perClient
}

// NewRedis returns Redis with appendfsync set to fsync.
func NewRedis(fsync string) *Redis { return &Redis{Fsync: fsync} }

func (r *Redis) Name() string { return "Redis AOF " + r.Fsync }

const redisKey = "hot"

func (r *Redis) Start(ctx context.Context, dir string) error {
	bin, err := lookPath("redis-server")
	if err != nil {
		return missing("redis-server", "redis-server")
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	r.addr = fmt.Sprintf("127.0.0.1:%d", port)
	r.conns = newPerClient(r.addr)
	r.proc = &process{
		name: "redis-server",
		log:  filepath.Join(dir, "redis.log"),
		newCmd: func() *exec.Cmd {
			return exec.Command(bin,
				"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
				"--dir", dir, "--daemonize", "no", "--save", "",
				"--appendonly", "yes", "--appendfsync", r.Fsync,
				"--maxclients", "1000", "--loglevel", "warning")
		},
	}
	if err := r.Restart(ctx); err != nil {
		return err
	}
	return r.conns.do(ctx, -1, func(c *lineConn) error {
		_, err := c.command("SET", redisKey, "0")
		return err
	})
}

func (r *Redis) Increment(ctx context.Context, client int, _ string) error {
	return r.conns.do(ctx, client, func(c *lineConn) error {
		reply, err := c.command("INCR", redisKey)
		if err == nil && (reply == "" || reply[0] != ':') {
			err = fmt.Errorf("INCR answered %q", reply)
		}
		return err
	})
}

func (r *Redis) Value(ctx context.Context) (int64, error) {
	var v int64
	err := r.conns.do(ctx, -1, func(c *lineConn) error {
		reply, err := c.command("GET", redisKey)
		if err != nil {
			return err
		}
		if reply == "$-1" { // nil: the key does not exist
			v = 0
			return nil
		}
		if !strings.HasPrefix(reply, "$") {
			return fmt.Errorf("GET answered %q", reply)
		}
		s, err := c.readLine()
		if err != nil {
			return err
		}
		v, err = strconv.ParseInt(s, 10, 64)
		return err
	})
	return v, err
}

func (r *Redis) Kill() error { return r.proc.kill() }

func (r *Redis) Restart(ctx context.Context) error {
	if err := r.proc.start(); err != nil {
		return err
	}
	return r.proc.waitReady(ctx, func(ctx context.Context) error {
		// PING answers -LOADING while the append-only file is being replayed.
		return r.conns.do(ctx, -1, func(c *lineConn) error {
			reply, err := c.command("PING")
			if err == nil && reply != "+PONG" {
				err = fmt.Errorf("PING answered %q", reply)
			}
			return err
		})
	})
}

func (r *Redis) Stop() error {
	r.conns.closeAll()
	return r.proc.shutdown()
}

// command sends one RESP command and returns the first line of the reply; an error reply
// ("-ERR ...") is returned as an error. The rest of a bulk reply is left for the caller to read.
func (c *lineConn) command(args ...string) (string, error) {
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	line, err := c.readLine()
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(line, "-") {
		return "", errors.New("redis: " + line[1:])
	}
	return line, nil
}
