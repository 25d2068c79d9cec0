package systems

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Tallyd is tallyd with its default embedded durable storage (an increment is acknowledged once
// fsynced) and Increment of one counter. All clients share one gRPC connection, as gRPC clients
// usually do. With Keys, every increment carries its id as the idempotency key, so that a retry
// applies at most once.
type Tallyd struct {
	Binary string // the tallyd program
	Keys   bool

	proc   *process
	conn   *grpc.ClientConn
	client tallyv1.CounterServiceClient
	health healthpb.HealthClient
}

// NewTallyd returns tallyd run from binary, sending idempotency keys if keys is set.
func NewTallyd(binary string, keys bool) *Tallyd { return &Tallyd{Binary: binary, Keys: keys} }

func (t *Tallyd) Name() string {
	if t.Keys {
		return "tallyd, keys"
	}
	return "tallyd, no keys"
}

const tallyCounter = "counters/hot"

// BuildTallyd builds cmd/tallyd of the module in the current directory into dir and returns the
// binary's path.
func BuildTallyd(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "tallyd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/tally-dev/tally/cmd/tallyd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building tallyd: %w", err)
	}
	return bin, nil
}

func (t *Tallyd) Start(ctx context.Context, dir string) error {
	if _, err := os.Stat(t.Binary); err != nil {
		return fmt.Errorf("tallyd binary: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	t.proc = &process{
		name: "tallyd",
		log:  filepath.Join(dir, "tallyd.log"),
		newCmd: func() *exec.Cmd {
			return exec.Command(t.Binary, "--addr", addr, "--admin-addr=",
				"--data-dir", filepath.Join(dir, "data"), "--log-level", "warn")
		},
	}
	// Reconnect within half a second of a restart (gRPC's default backoff grows to minutes).
	bo := backoff.DefaultConfig
	bo.MaxDelay = 500 * time.Millisecond
	t.conn, err = grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: time.Second}))
	if err != nil {
		return err
	}
	t.client = tallyv1.NewCounterServiceClient(t.conn)
	t.health = healthpb.NewHealthClient(t.conn)
	return t.Restart(ctx)
}

func (t *Tallyd) Increment(ctx context.Context, _ int, id string) error {
	req := &tallyv1.IncrementRequest{Name: tallyCounter, Delta: 1}
	if t.Keys {
		req.IdempotencyKey = id
	}
	_, err := t.client.Increment(ctx, req)
	return err
}

func (t *Tallyd) Value(ctx context.Context) (int64, error) {
	c, err := t.client.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: tallyCounter})
	if status.Code(err) == codes.NotFound { // created by the first increment
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return c.GetValue(), nil
}

func (t *Tallyd) Kill() error { return t.proc.kill() }

func (t *Tallyd) Restart(ctx context.Context) error {
	if err := t.proc.start(); err != nil {
		return err
	}
	return t.proc.waitReady(ctx, func(ctx context.Context) error {
		r, err := t.health.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		if err != nil {
			return err
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return errors.New("tallyd health: " + r.GetStatus().String())
		}
		return nil
	})
}

func (t *Tallyd) Stop() error {
	var errs []error
	if t.conn != nil {
		errs = append(errs, t.conn.Close())
	}
	errs = append(errs, t.proc.shutdown())
	return errors.Join(errs...)
}
