package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/testload"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// diskFullEnv names a directory on a small filesystem of its own (a tmpfs of a few MiB, say),
// which the disk-full test fills up; scripts/disk-full.sh mounts one and runs the test.
const diskFullEnv = "TALLYD_DISKFULL_DIR"

// TestDiskFullAcknowledgesNothingItLoses runs tallyd on embedded storage in a directory whose
// filesystem is full but for a little headroom, and sends keyed increments (one attempt each)
// until the disk is full and increments fail. Every failure must be an error (no increment is
// acknowledged and then lost); after tallyd is SIGKILLed, the space freed and tallyd started
// again on the same data, the counter holds exactly the acknowledged increments plus those
// failed ones whose retry turns out to be a duplicate (applied, but answered with an error);
// every failed key retried then applies once, and every acknowledged key is a duplicate.
//
// Opt-in: it needs TALLYD_DISKFULL_DIR on a filesystem it may fill (see scripts/disk-full.sh).
func TestDiskFullAcknowledgesNothingItLoses(t *testing.T) {
	dir := os.Getenv(diskFullEnv)
	if dir == "" {
		t.Skipf("%s is not set: run scripts/disk-full.sh, which mounts a small tmpfs for it", diskFullEnv)
	}
	const (
		headroom = 192 << 10 // bytes left free for tallyd's data after the filler
		workers  = 4
		// The load stops after this many failures: enough to see that the failure persists.
		wantFailures = 24
		budget       = 2 * time.Minute
	)
	bins := buildBinaries(t)
	dataDir, err := os.MkdirTemp(dir, "tallyd-data-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dataDir) })
	proc := startProcess(t, bins.tallyd, dataDir)
	c := dial(t, proc.Addr)
	ctx := context.Background()
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/full", Delta: 1, IdempotencyKey: "first"}); err != nil {
		t.Fatalf("the first increment, before filling the disk: %v", err)
	}

	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	t.Logf("%s: %d KiB of %d KiB free", dir, free>>10, (int64(fs.Blocks)*int64(fs.Bsize))>>10)
	if free > 1<<30 {
		t.Fatalf("%s has %d MiB free: give the test a small filesystem of its own", dir, free>>20)
	}
	filler := filepath.Join(dir, "filler")
	if err := writeFiller(filler, free-headroom); err != nil {
		t.Fatalf("filling %s: %v", dir, err)
	}
	removed := false
	t.Cleanup(func() {
		if !removed {
			_ = os.Remove(filler)
		}
	})

	var (
		mu                sync.Mutex
		acked             = []string{"first"}
		failed            []string
		codesSeen         = map[codes.Code]int{}
		firstFailure      time.Time
		ackedAfterFailure int
		n                 int
	)
	start := time.Now()
	load := testload.Start(workers, func(int) bool {
		mu.Lock()
		if len(failed) >= wantFailures || time.Since(start) > budget {
			mu.Unlock()
			return false
		}
		n++
		key := fmt.Sprintf("key-%05d", n)
		mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Increment(cctx, &tallyv1.IncrementRequest{Name: "counters/full", Delta: 1, IdempotencyKey: key})
		cancel()
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			acked = append(acked, key)
			if !firstFailure.IsZero() {
				ackedAfterFailure++
			}
			return true
		}
		codesSeen[status.Code(err)]++
		if firstFailure.IsZero() {
			firstFailure = time.Now()
			t.Logf("first failure after %d acknowledged increments: %v", len(acked), err)
		}
		failed = append(failed, key)
		switch status.Code(err) {
		case codes.Unavailable, codes.Internal, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		default:
			t.Errorf("key %s: %v: a full disk should be answered as a failure to retry", key, err)
		}
		return true
	})
	<-load.Done()
	if len(failed) < wantFailures {
		t.Fatalf("only %d failures in %v with %d KiB of headroom: the disk never filled up", len(failed), budget, headroom>>10)
	}
	t.Logf("%d increments acknowledged, %d failed (%s), %d acknowledged after the first failure, in %v",
		len(acked), len(failed), codeCounts(codesSeen), ackedAfterFailure, time.Since(start).Round(time.Millisecond))

	// What a client sees while the disk is full, logged rather than checked: an increment and a
	// read without a deadline of their own (tallyd's --default-deadline applies), and health,
	// which tallyd's prober (every 5 s by default) sets from a read of a probe document.
	healthClient := healthpb.NewHealthClient(dialConn(t, proc.Addr))
	for _, call := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"an increment", func(ctx context.Context) error {
			_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/full", Delta: 1, IdempotencyKey: "while-full"})
			return err
		}},
		{"a read", func(ctx context.Context) error {
			_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/full"})
			return err
		}},
	} {
		began := time.Now()
		err := call.do(ctx)
		t.Logf("while full: %s is answered %v after %v", call.name, status.Code(err), time.Since(began).Round(time.Millisecond))
		if err == nil && call.name == "an increment" {
			acked = append(acked, "while-full")
		} else if call.name == "an increment" {
			failed = append(failed, "while-full")
		}
	}
	// A replica that can serve no call must say so, for its load balancer to stop sending any:
	// the health probe's read-only transaction is refused like every call's.
	hctx, cancel := context.WithTimeout(ctx, 3*healthTimeout)
	watch, err := healthClient.Watch(hctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	awaitHealth(t, watch, healthpb.HealthCheckResponse_NOT_SERVING)
	cancel()
	t.Logf("while full: health NOT_SERVING %v after the first failure", time.Since(firstFailure).Round(100*time.Millisecond))

	// Free the space: does tallyd recover without a restart? (Logged: the embedded storage
	// refuses every write after its first write failure, by design.)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	removed = true
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, ierr := c.Increment(ictx, &tallyv1.IncrementRequest{Name: "counters/full", Delta: 1, IdempotencyKey: "space-freed"})
	cancel()
	t.Logf("space freed, before a restart: an increment is answered %v", status.Code(ierr))
	if ierr == nil {
		acked = append(acked, "space-freed")
	} else {
		failed = append(failed, "space-freed")
	}

	// Start again on the same data.
	select {
	case <-proc.Exited():
		t.Logf("tallyd exited by itself: %v", proc.Err())
	default:
		t.Log("tallyd still runs; SIGKILLing it")
		_ = proc.Kill()
	}
	proc = proc.Restart(t)
	c = dial(t, proc.Addr)
	got := value(t, c, "full")
	t.Logf("after freeing the space and restarting: value %d, %d acknowledged", got, len(acked))
	if got < int64(len(acked)) {
		t.Errorf("value %d after the restart, below the %d acknowledged increments: acknowledged increments were lost", got, len(acked))
	}
	applied := 0 // failed keys that had been applied after all
	for _, key := range failed {
		res, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/full", Delta: 1, IdempotencyKey: key})
		if err != nil {
			t.Fatalf("retrying %s after the restart: %v", key, err)
		}
		if res.GetDuplicate() {
			applied++
		}
	}
	if want := int64(len(acked) + applied); got != want {
		t.Errorf("value %d after the restart, want %d: %d acknowledged and %d failed ones found applied on retry", got, want, len(acked), applied)
	}
	for _, key := range acked {
		res, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/full", Delta: 1, IdempotencyKey: key})
		if err != nil {
			t.Fatalf("repeating %s: %v", key, err)
		}
		if !res.GetDuplicate() {
			t.Errorf("acknowledged key %s applied again: its record was lost", key)
		}
	}
	if got, want := value(t, c, "full"), int64(len(acked)+len(failed)); got != want {
		t.Errorf("after retrying every failed key: value %d, want %d, one per key", got, want)
	}
	t.Logf("%d of the %d failed increments had been applied (their retry was a duplicate); after retrying them, every key counted once", applied, len(failed))
}

// writeFiller writes a file of size bytes (or as many as fit).
func writeFiller(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for size > 0 {
		k := min(size, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			_ = f.Close()
			if strings.Contains(err.Error(), "no space") {
				return nil
			}
			return err
		}
		size -= k
	}
	return f.Close()
}

func codeCounts(m map[codes.Code]int) string {
	var parts []string
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if m[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", c, m[c]))
		}
	}
	return strings.Join(parts, " ")
}
