package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/tally-dev/tally/internal/testproc"
)

// crashHelperDir, when set, turns TestHelperProcess into the child of
// TestCrashKeepsAcknowledgedBatches: it writes to that directory until it is killed.
const crashHelperDir = "STORAGE_CRASH_HELPER_DIR"

// crashBatch is the i-th batch the helper writes (commit time 10*(i+1)): three documents that
// always share the value i, and one document per batch named after its commit time.
func crashBatch(w *writer, i int64) *Batch {
	return w.batch(set(i, "c", "a"), set(i, "c", "b"), set(i, "c", "c"), set(i, "log", fmt.Sprintf("%012d", w.now+10)))
}

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashHelperDir)
	if dir == "" {
		t.Skip("only runs as the child process of TestCrashKeepsAcknowledgedBatches")
	}
	// A slow WAL write widens the window in which a premature acknowledgement would be lost.
	slowWAL := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpFileWrite && strings.HasSuffix(op.Path, ".log") {
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	s, err := Open(Options{Dir: dir, fs: errorfs.Wrap(vfs.Default, slowWAL)})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	type inFlight struct {
		ticket *Ticket
		at     int64
	}
	queue := make(chan inFlight, 32) // several batches in flight, so groups form
	go func() {
		w := newWriter(t, s)
		for i := int64(0); i < 20000; i++ {
			b := crashBatch(w, i)
			queue <- inFlight{s.Submit(b), b.CommitTime}
		}
		close(queue)
	}()
	for f := range queue {
		<-f.ticket.Done()
		if err := f.ticket.Err(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ack", f.at)
	}
	os.Exit(0)
}

func TestCrashKeepsAcknowledgedBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := testproc.Helper("TestHelperProcess", crashHelperDir+"="+dir)
	// Only the goroutine handing over the child's lines touches these until the child has
	// exited; then the test reads them.
	var acked []int64
	killed := false
	garbled := "" // a line that should have been an acknowledgement
	child := testproc.Start(t, "storage writer", cmd, func(line string) bool {
		if strings.HasPrefix(line, "error") {
			t.Errorf("child: %s", line)
		}
		at, ok := strings.CutPrefix(line, "ack ")
		if !ok {
			return true
		}
		n, err := strconv.ParseInt(at, 10, 64)
		if err != nil {
			garbled = line
			_ = cmd.Process.Kill()
			return false
		}
		// Acknowledgements printed before the kill count too: the lines after it are read on.
		acked = append(acked, n)
		if len(acked) == 300 && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to flush or close
				t.Errorf("killing the child: %v", err)
			}
			killed = true
		}
		return true
	})
	<-child.Exited()
	if garbled != "" {
		t.Fatalf("child printed %q", garbled)
	}
	if !killed {
		t.Fatalf("child exited after %d acknowledgements, before it could be killed", len(acked))
	}

	s := openWith(t, Options{Dir: dir})
	checkRecovered(t, s, acked)
}

// checkRecovered verifies a store reopened after a crash of a writer of crashBatch batches:
// every acknowledged batch survived in full and no later batch is partly visible.
func checkRecovered(t *testing.T, s *Store, acked []int64) {
	t.Helper()
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged before the crash")
	}
	durable := s.DurableTime()
	last := slices.Max(acked)
	if durable < last {
		t.Fatalf("DurableTime after the crash = %d, but %d was acknowledged", durable, last)
	}
	t.Logf("%d batches acknowledged before the crash, last %d; %d survived", len(acked), last, durable/10)
	if err := s.Check(); err != nil {
		t.Fatalf("the recovered store is inconsistent:\n%v", err)
	}
	// Every acknowledged batch (and every batch up to the recovered durable time) is readable
	// in full at its commit time.
	for at := int64(10); at <= durable; at += 10 {
		for _, id := range []string{"a", "b", "c"} {
			v, err := s.Get(testDB, []string{"c", id}, at)
			if err != nil || v == nil || v.UpdateTime != at || v.Fields["n"].GetIntegerValue() != at/10-1 {
				t.Fatalf("batch %d: c/%s = %s, %v; want n=%d written at %d", at, id, describe(v), err, at/10-1, at)
			}
		}
	}
	// Nothing of a later, partial batch is visible: the latest versions are exactly those of
	// the durable batch, and the log holds one document per durable batch.
	for _, id := range []string{"a", "b", "c"} {
		h, found, err := s.latestHeader(latestKey(namespace(testDB), []string{"c", id}))
		if err != nil || !found || h.updateTime != durable {
			t.Fatalf("stored latest c/%s was written at %d (found %v, %v), want %d", id, h.updateTime, found, err, durable)
		}
	}
	logged := 0
	for v, err := range s.Snapshot(testDB, durable).Documents(nil, "log", false, nil) {
		if err != nil {
			t.Fatal(err)
		}
		logged++
		if v.UpdateTime > durable {
			t.Fatalf("log document %v from %d is newer than the durable time %d", v.Path, v.UpdateTime, durable)
		}
	}
	rawLatest := countKeys(t, s, append([]byte{latestPrefix}, latestKey(namespace(testDB), []string{"log"})[1:]...))
	if int64(logged) != durable/10 || int64(rawLatest) != durable/10 {
		t.Fatalf("log holds %d documents (%d keys), want one per batch up to %d: %d", logged, rawLatest, durable, durable/10)
	}
}

// A power loss keeps only what was synced. The store runs on a file system that can produce
// the state after a crash: synced data plus some, all or none of the rest.
func TestPowerLossKeepsAcknowledgedBatches(t *testing.T) {
	t.Parallel()
	for _, unsynced := range []int{0, 50, 100} {
		t.Run(fmt.Sprintf("unsynced data kept %d%%", unsynced), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			s := openWith(t, Options{Dir: "db", fs: fs})
			w := newWriter(t, s)
			var inFlight []*Ticket
			var acked []int64
			var crashed *vfs.MemFS
			for i := int64(0); crashed == nil; i++ {
				inFlight = append(inFlight, s.Submit(crashBatch(w, i)))
				if len(inFlight) < 8 {
					continue
				}
				// Wait for the oldest batch while younger ones are still being written.
				<-inFlight[0].Done()
				if err := inFlight[0].Err(); err != nil {
					t.Fatal(err)
				}
				acked = append(acked, 10*(i-7+1))
				inFlight = inFlight[1:]
				if len(acked) == 100 {
					crashed = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rand.New(rand.NewPCG(1, uint64(unsynced)))})
				}
			}
			checkRecovered(t, openWith(t, Options{Dir: "db", fs: crashed}), acked)
		})
	}
}
