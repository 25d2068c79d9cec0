package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// The import's keys derive from the destination counter's create_time
// (importer.counter). This checks what they rely on, against tallyd with
// each kind of storage: CreateCounter and GetCounter give the same
// create_time, increments, resets and resizes keep it, and a counter
// deleted and created again, at once, has a new one; as has one that an
// Increment creates.
func TestImportCreateTimeIsTheIncarnation(t *testing.T) {
	t.Parallel()
	bins := testproc.Build(t, testproc.Tallyd, testproc.Emulator)
	em := testproc.StartEmulator(t, bins[1], "--in-memory", "--host", "127.0.0.1", "--port", "0", "--indexes", deployedIndexes)
	servers := map[string]*testproc.Process{
		"embedded": startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir()),
		"emulator": startTallyd(t, bins[0], []string{"FIRESTORE_EMULATOR_HOST=" + em.Addr, "GOOGLE_CLOUD_PROJECT=tally-incarnation"}, "--storage", "emulator"),
	}
	for name, srv := range servers {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := apiClient(t, srv.Addr)
			get := func() *tallyv1.Counter {
				t.Helper()
				got, err := d.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: namePrefix + "x"})
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			seen := map[string]string{} // create time: the incarnation that had it
			incarnation := func(what string, ctr *tallyv1.Counter) string {
				t.Helper()
				inc, err := newIncarnation(exportedCounter{ID: "x"}, ctr)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if other, ok := seen[inc.createTime]; ok {
					t.Errorf("%s: create_time %s, as %s had", what, inc.createTime, other)
				}
				seen[inc.createTime] = what
				return inc.createTime
			}
			for i := range 5 {
				what := fmt.Sprintf("incarnation %d", i)
				created, err := d.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "x", Counter: &tallyv1.Counter{ShardCount: 2}})
				if err != nil {
					t.Fatal(err)
				}
				ct := incarnation(what, created)
				if !proto.Equal(get().GetCreateTime(), created.GetCreateTime()) {
					t.Errorf("%s: GetCounter's create_time %v, CreateCounter's %v", what, get().GetCreateTime(), created.GetCreateTime())
				}
				if _, err := d.Increment(ctx, &tallyv1.IncrementRequest{Name: namePrefix + "x", Delta: 3, IdempotencyKey: "k"}); err != nil {
					t.Fatal(err)
				}
				if _, err := d.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: namePrefix + "x"}); err != nil {
					t.Fatal(err)
				}
				if _, err := d.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: namePrefix + "x", ShardCount: 3}}); err != nil {
					t.Fatal(err)
				}
				if got := get().GetCreateTime(); !proto.Equal(got, created.GetCreateTime()) {
					t.Errorf("%s: after an increment, a reset and a resize, create_time %v, want %s", what, got, ct)
				}
				if _, err := d.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: namePrefix + "x"}); err != nil {
					t.Fatal(err)
				}
			}
			// A deleted counter's keys are still duplicates (why the keys
			// derive from the incarnation), and a duplicate creates nothing.
			resp, err := d.Increment(ctx, &tallyv1.IncrementRequest{Name: namePrefix + "x", Delta: 3, IdempotencyKey: "k"})
			if err != nil || !resp.GetDuplicate() {
				t.Errorf("the deleted counters' increment, again: %v, %v; want a duplicate", resp, err)
			}
			if _, err := d.Increment(ctx, &tallyv1.IncrementRequest{Name: namePrefix + "x", Delta: 3}); err != nil {
				t.Fatal(err)
			}
			incarnation("the counter an Increment created", get())
		})
	}
}

// exportOf exports src to a file and reads it back.
func exportOf(t *testing.T, src *testproc.Process) (string, *export) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "e.jsonl")
	tallyOK(t, "", "--addr", src.Addr, "export", "-o", file)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex, err := readExport(f, file)
	if err != nil {
		t.Fatal(err)
	}
	return file, ex
}

// A review found these: a counter imported, deleted, then created again at
// 0 (as a re-import stopped between its CreateCounter and its Increment
// leaves it) was reported "already imported" and stayed at 0; and one
// created again with someone else's value was taken for imported.
func TestImportAfterDelete(t *testing.T) {
	t.Parallel()
	bins := testproc.Build(t, testproc.Tallyd)
	src := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	dst := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	s, d := apiClient(t, src.Addr), apiClient(t, dst.Addr)
	makeCounter(t, s, "x", counterState{1, 5})
	file, ex := exportOf(t, src)
	summary := func(created, already, merged int) string {
		return fmt.Sprintf("imported 1 counters of export %s: %d created, %d already imported, %d merged\n", ex.header.ExportID, created, already, merged)
	}
	importOK := func(want string, args ...string) {
		t.Helper()
		if got := tallyOK(t, "", append([]string{"--addr", dst.Addr, "import", "-i", file}, args...)...); got.stdout != want {
			t.Errorf("import %s printed %q, want %q", strings.Join(append([]string{"-i", file}, args...), " "), got.stdout, want)
		}
	}
	importOK(summary(1, 0, 0))
	importOK(summary(0, 1, 0))

	t.Run("and a run stopped after its create", func(t *testing.T) {
		tallyOK(t, "", "--addr", dst.Addr, "delete", "x")
		if _, err := d.CreateCounter(context.Background(), &tallyv1.CreateCounterRequest{CounterId: "x", Counter: &tallyv1.Counter{ShardCount: 1}}); err != nil {
			t.Fatal(err)
		}
		importOK(summary(1, 0, 0))
		checkCounters(t, "after finishing the import", counters(t, d), map[string]counterState{"x": {1, 5}})
		importOK(summary(0, 1, 0))
		checkCounters(t, "after importing again", counters(t, d), map[string]counterState{"x": {1, 5}})
	})

	t.Run("and a whole run", func(t *testing.T) {
		tallyOK(t, "", "--addr", dst.Addr, "delete", "x")
		importOK(summary(1, 0, 0))
		importOK(summary(0, 1, 0))
		checkCounters(t, "after the import", counters(t, d), map[string]counterState{"x": {1, 5}})
	})

	t.Run("and someone else's counter", func(t *testing.T) {
		tallyOK(t, "", "--addr", dst.Addr, "delete", "x")
		makeCounter(t, d, "x", counterState{1, 7})
		for range 2 {
			got := runTally(context.Background(), "--addr", dst.Addr, "import", "-i", file)
			if got.code != exitFailed || !strings.Contains(got.stderr, `counter "x": exists already (value 7, 1 shard) and this export was not imported into it`) {
				t.Errorf("import: exit code %d, stdout %q, stderr:\n%s", got.code, got.stdout, got.stderr)
			}
		}
		// Merged, once, however often; a run without --merge then finds the
		// value imported.
		importOK(summary(0, 0, 1), "--merge")
		importOK(summary(0, 1, 0), "--merge")
		importOK(summary(0, 1, 0))
		checkCounters(t, "after the merge", counters(t, d), map[string]counterState{"x": {1, 12}})
	})
}

func (o importOutcome) String() string {
	switch o {
	case outcomeCreated:
		return "created"
	case outcomeAlready:
		return "already imported"
	case outcomeMerged:
		return "merged"
	}
	return fmt.Sprintf("importOutcome(%d)", int(o))
}

// gatedClient calls before ahead of each RPC an import makes.
type gatedClient struct {
	tallyv1.CounterServiceClient
	before func()
}

func (g gatedClient) CreateCounter(ctx context.Context, in *tallyv1.CreateCounterRequest, opts ...grpc.CallOption) (*tallyv1.Counter, error) {
	g.before()
	return g.CounterServiceClient.CreateCounter(ctx, in, opts...)
}

func (g gatedClient) GetCounter(ctx context.Context, in *tallyv1.GetCounterRequest, opts ...grpc.CallOption) (*tallyv1.Counter, error) {
	g.before()
	return g.CounterServiceClient.GetCounter(ctx, in, opts...)
}

func (g gatedClient) Increment(ctx context.Context, in *tallyv1.IncrementRequest, opts ...grpc.CallOption) (*tallyv1.IncrementResponse, error) {
	g.before()
	return g.CounterServiceClient.Increment(ctx, in, opts...)
}

// A review found this: run A creates counter x; run B, overlapping, adds
// its value; run A's Increment got a duplicate, took it for a deleted
// counter's and added the value again under another key.
func TestImportOverlappingRunsReviewed(t *testing.T) {
	t.Parallel()
	bins := testproc.Build(t, testproc.Tallyd)
	src := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	dst := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	s, d := apiClient(t, src.Addr), apiClient(t, dst.Addr)
	makeCounter(t, s, "x", counterState{1, 5})
	file, ex := exportOf(t, src)
	calls := 0
	a := importer{client: gatedClient{d, func() {
		if calls++; calls == 2 { // A created x, and is about to add its value
			t.Logf("run B: %q", tallyOK(t, "", "--addr", dst.Addr, "import", "-i", file).stdout)
		}
	}}, header: ex.header, keyPrefix: defaultKeyPrefix}
	outcome, err := a.counter(context.Background(), ex.counters[0])
	if err != nil || outcome != outcomeCreated {
		t.Errorf("run A: outcome %v, error %v; want created", outcome, err)
	}
	checkCounters(t, "after both runs", counters(t, d), map[string]counterState{"x": {1, 5}})
}

// stepRuns runs the imports runs (two) of counter c at the same time, one
// RPC at a time: at step k < len(prefix) run prefix[k] makes its next RPC,
// then run 0 until it is done, then run 1. It returns what each run did,
// which made each RPC (order), and the steps past the prefix at which run 0
// went and run 1 could have (forks).
func stepRuns(ctx context.Context, runs []importer, c exportedCounter, prefix []int) (outcomes []importOutcome, errs []error, order, forks []int) {
	outcomes, errs = make([]importOutcome, len(runs)), make([]error, len(runs))
	parked := make(chan int) // run i waits for its turn, or is done
	turn := make([]chan struct{}, len(runs))
	done := make([]bool, len(runs))
	for i, im := range runs {
		turn[i] = make(chan struct{})
		im.client = gatedClient{im.client, func() { parked <- i; <-turn[i] }}
		go func() {
			outcomes[i], errs[i] = im.counter(ctx, c)
			done[i] = true
			parked <- i
		}()
	}
	for range runs {
		<-parked
	}
	for k := 0; !done[0] || !done[1]; k++ {
		i := 0
		switch {
		case k < len(prefix):
			i = prefix[k]
		case done[0]:
			i = 1
		case !done[1]:
			forks = append(forks, k)
		}
		order = append(order, i)
		turn[i] <- struct{}{}
		<-parked
	}
	return outcomes, errs, order, forks
}

// orderString shows an order of stepRuns as the letters of the runs.
func orderString(order []int) string {
	b := make([]byte, len(order))
	for k, i := range order {
		b[k] = "AB"[i]
	}
	return string(b)
}

// TestImportOverlappingRuns runs two imports of one counter at the same
// time, through every interleaving of their RPCs (each makes at most four),
// from each state an earlier run, a delete or someone else can leave the
// counter in: whatever the order, the value is applied at most once and a
// run reports success only for a counter that holds the exported value.
// Then a run with --merge and one without find it imported.
func TestImportOverlappingRuns(t *testing.T) {
	t.Parallel()
	bins := testproc.Build(t, testproc.Tallyd)
	dst := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	d := apiClient(t, dst.Addr)
	ctx := context.Background()
	h := exportHeader{ExportID: "overlap", ExportTime: "2025-03-14T15:09:26.535897Z"}
	exported := exactInt64(5)
	plain := importer{client: d, header: h, keyPrefix: defaultKeyPrefix}
	merging := plain
	merging.merge = true
	create := func(t *testing.T, id string, s counterState) { makeCounter(t, d, id, s) }
	importDelete := func(t *testing.T, c exportedCounter) {
		if _, err := plain.counter(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := d.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: namePrefix + c.ID}); err != nil {
			t.Fatal(err)
		}
	}
	value := func(id string) int64 {
		t.Helper()
		got, err := d.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: namePrefix + id})
		if err != nil {
			t.Fatal(err)
		}
		return got.GetValue()
	}
	refused := func(err error) bool { return err != nil && strings.Contains(err.Error(), "exists already") }
	tests := []struct {
		name   string
		setup  func(t *testing.T, c exportedCounter)
		runs   []importer
		ours   bool  // the counter is empty or the import's: runs without --merge succeed
		want   int64 // the value after both runs
		merged bool  // a run merged into someone else's counter
	}{
		{name: "new", runs: []importer{plain, plain}, ours: true, want: 5},
		{name: "new, one merging", runs: []importer{plain, merging}, ours: true, want: 5},
		{name: "after an interrupted run", runs: []importer{plain, plain}, ours: true, want: 5,
			setup: func(t *testing.T, c exportedCounter) { create(t, c.ID, counterState{2, 0}) }},
		{name: "imported and deleted", runs: []importer{plain, plain}, ours: true, want: 5, setup: importDelete},
		{name: "imported, deleted, interrupted", runs: []importer{plain, plain}, ours: true, want: 5,
			setup: func(t *testing.T, c exportedCounter) { importDelete(t, c); create(t, c.ID, counterState{2, 0}) }},
		{name: "someone else's, merging", runs: []importer{merging, merging}, want: 12, merged: true,
			setup: func(t *testing.T, c exportedCounter) { create(t, c.ID, counterState{1, 7}) }},
		{name: "someone else's, one merging", runs: []importer{plain, merging}, want: 12, merged: true,
			setup: func(t *testing.T, c exportedCounter) { create(t, c.ID, counterState{1, 7}) }},
		{name: "imported, deleted, someone else's", runs: []importer{plain, plain}, want: 7,
			setup: func(t *testing.T, c exportedCounter) { importDelete(t, c); create(t, c.ID, counterState{1, 7}) }},
		{name: "imported, deleted, someone else's, one merging", runs: []importer{merging, plain}, want: 12, merged: true,
			setup: func(t *testing.T, c exportedCounter) { importDelete(t, c); create(t, c.ID, counterState{1, 7}) }},
		{name: "refused, then someone else's at 0", runs: []importer{plain, plain}, ours: true, want: 5,
			setup: func(t *testing.T, c exportedCounter) {
				create(t, c.ID, counterState{2, 7})
				if _, err := plain.counter(ctx, c); !refused(err) {
					t.Fatalf("import into someone else's counter: %v", err)
				}
				if _, err := d.Increment(ctx, &tallyv1.IncrementRequest{Name: namePrefix + c.ID, Delta: -7}); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Every order of the two runs' RPCs once: each fork of an order
			// is explored with run B going there instead.
			orders := 0
			for pending := [][]int{nil}; len(pending) > 0; orders++ {
				prefix := pending[len(pending)-1]
				pending = pending[:len(pending)-1]
				c := exportedCounter{ID: fmt.Sprintf("%s-%d", strings.ReplaceAll(tc.name, " ", "-"), orders), ShardCount: 2, Value: &exported}
				if tc.setup != nil {
					tc.setup(t, c)
				}
				outcomes, errs, order, forks := stepRuns(ctx, tc.runs, c, prefix)
				for _, k := range forks {
					pending = append(pending, append(slices.Clone(order[:k]), 1))
				}
				trace := orderString(order)
				got := value(c.ID)
				report := fmt.Sprintf("RPCs in the order %s: outcomes %v, errors %v, value %d", trace, outcomes, errs, got)
				if got != tc.want {
					t.Errorf("%s, want value %d", report, tc.want)
				}
				merges := 0
				for i, err := range errs {
					switch {
					case err == nil && outcomes[i] == outcomeMerged:
						merges++
					case err == nil && !tc.ours && !tc.merged && !tc.runs[i].merge:
						t.Errorf("%s: run %c took someone else's counter for imported", report, "AB"[i])
					case err == nil:
					case refused(err) && !tc.ours && !tc.runs[i].merge:
					default:
						t.Errorf("%s: run %c failed", report, "AB"[i])
					}
				}
				if tc.merged != (merges == 1) || merges > 1 {
					t.Errorf("%s: %d runs merged", report, merges)
				}
				// The imports are done: any run now finds the counter imported,
				// or someone else's still.
				if !tc.ours && !tc.merged {
					if _, err := plain.counter(ctx, c); !refused(err) {
						t.Errorf("%s; then a run: %v, want a refusal", report, err)
					}
					continue
				}
				for _, im := range []importer{plain, merging} {
					if o, err := im.counter(ctx, c); err != nil || o != outcomeAlready {
						t.Errorf("%s; then a run with merge %v: outcome %v, error %v, want already imported", report, im.merge, o, err)
					}
				}
				if got := value(c.ID); got != tc.want {
					t.Errorf("%s; then value %d after the runs that followed", report, got)
				}
			}
			t.Logf("%d orders of RPCs", orders)
		})
	}
}
