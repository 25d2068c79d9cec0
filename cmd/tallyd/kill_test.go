package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/tally-dev/tally/internal/testload"
	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// The kill test's counters: the hot one takes increments and resizes and is never reset; the
// other takes increments, resizes and resets.
const (
	hotCounter   = "counters/chaos"
	resetCounter = "counters/chaos-reset"
)

// killConfig is how long the kill test runs. By default it is CI's short form: 12 kills within
// 30 s of load, at least 10 of which must happen. TALLYD_KILLS asks for that many kills, all of
// which must happen, within TALLYD_KILL_BUDGET (default 3 s per kill) of load.
type killConfig struct {
	kills, minKills int
	budget          time.Duration
}

func killTestConfig(t *testing.T) killConfig {
	c := killConfig{kills: 12, minKills: 10, budget: 30 * time.Second}
	if s := os.Getenv("TALLYD_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TALLYD_KILLS=%q: want a positive number of kills", s)
		}
		c.kills, c.minKills, c.budget = n, n, time.Duration(n)*3*time.Second
	}
	if s := os.Getenv("TALLYD_KILL_BUDGET"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("TALLYD_KILL_BUDGET=%q: want a positive duration such as 8m", s)
		}
		c.budget = d
	}
	return c
}

// killAck is one acknowledged increment (by 1) or reset: its counter, key and commit.
type killAck struct {
	counter string
	key     string
	reset   bool
	commit  time.Time
}

// killRead is one successful read of both counters during the run.
type killRead struct {
	at         time.Time
	hot, reset int64
}

// retryCounts counts failed attempts by status code.
type retryCounts struct {
	byCode [codes.Unauthenticated + 1]atomic.Int64
}

func (r *retryCounts) add(err error) {
	if c := status.Code(err); int(c) < len(r.byCode) {
		r.byCode[c].Add(1)
	}
}

func (r *retryCounts) total() (n int64) {
	for i := range r.byCode {
		n += r.byCode[i].Load()
	}
	return n
}

func (r *retryCounts) String() string {
	var parts []string
	for i := range r.byCode {
		if n := r.byCode[i].Load(); n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", codes.Code(i), n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// TestSIGKILLedReplicasCountEveryKeyOnce runs three tallyd replicas on one durable emulator, all
// as processes, while clients send keyed increments of two counters to random replicas and retry
// each key, on any error and on a random replica, until it is acknowledged. Meanwhile both
// counters are resized now and then, the second one is reset with keyed resets (retried the same
// way), both are read, and replicas and the emulator are SIGKILLed and restarted on their
// addresses; about half of the kills are aimed at a resize or reset just sent to the victim (or,
// for the emulator, to any replica).
//
// The check is exact although resets run meanwhile: every acknowledgement names its commit time,
// which orders it against the resets (see killModel). In the end, and at the read time of every
// read during the run, the hot counter holds exactly one per key acknowledged by then and the
// reset counter exactly one per key acknowledged after its last reset; every key, repeated, is
// a duplicate naming the same commit, every reset repeated is one too and wipes nothing.
//
// TALLYD_TEST_SEED repeats the random choices (not the timing); TALLYD_KILLS and
// TALLYD_KILL_BUDGET make the long form (see killConfig and scripts/kill-soak.sh).
func TestSIGKILLedReplicasCountEveryKeyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and repeatedly kills replicas and the emulator")
	}
	// Not parallel: the kills must fit a budget of wall time, which other tests' load would eat.
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TALLYD_TEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("TALLYD_TEST_SEED: %v", err)
		}
	}
	t.Logf("seed %d (TALLYD_TEST_SEED=%d repeats the random choices)", seed, seed)
	cfg := killTestConfig(t)
	t.Logf("%d kills (at least %d) within %v of load", cfg.kills, cfg.minKills, cfg.budget)
	const (
		replicaCount = 3
		workers      = 8
	)
	bins := buildBinaries(t)

	// Every process keeps its address across restarts: the replicas find the emulator through a
	// fixed FIRESTORE_EMULATOR_HOST, the clients the replicas through fixed addresses.
	emAddr := testproc.FreeAddr(t)
	emHost, emPort, _ := net.SplitHostPort(emAddr)
	em := testproc.StartEmulator(t, bins.emulator, "--host", emHost, "--port", emPort, "--data-dir", t.TempDir(), "--indexes", deployedIndexes)
	replicas := make([]*testproc.Process, replicaCount)
	clients := make([]tallyv1.CounterServiceClient, replicaCount)
	for i := range replicas {
		replicas[i] = startReplica(t, bins.tallyd, emAddr, testproc.FreeAddr(t))
		clients[i] = dialReplica(t, replicas[i].Addr)
	}
	for _, name := range []string{hotCounter, resetCounter} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := clients[0].CreateCounter(ctx, &tallyv1.CreateCounterRequest{
			CounterId: strings.TrimPrefix(name, "counters/"), Counter: &tallyv1.Counter{ShardCount: 4}})
		cancel()
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	started := time.Now()
	deadline := started.Add(cfg.budget)
	// Whatever is still unacknowledged when the load stops has this long more: a test that
	// cannot get an answer then fails rather than hangs.
	ackDeadline := deadline.Add(30 * time.Second)

	var (
		retries          retryCounts
		issued, dups     atomic.Int64
		acked            atomic.Int64
		progress         = make(chan struct{}, 1)
		ackedKeys        = make([][]killAck, workers) // per worker, so that no lock is needed
		resetsMu         sync.Mutex
		resets           []killAck
		resetDups        atomic.Int64
		resizes          atomic.Int64
		adminInFlight    atomic.Int64
		killerAdminRetry atomic.Int64 // the killer's resizes and resets that needed a retry
	)
	rngs := make([]*rand.Rand, workers)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(seed, uint64(w)+1))
	}
	load := testload.Start(workers, func(w int) bool {
		n := issued.Add(1)
		key := fmt.Sprintf("key-%06d", n)
		name := hotCounter
		if rngs[w].IntN(4) == 0 {
			name = resetCounter
		}
		res, err := incrementUntilAcknowledged(rngs[w], clients, name, key, ackDeadline, &retries)
		if err != nil {
			t.Errorf("key %s of %s: %v", key, name, err)
			return false
		}
		if res.GetDuplicate() {
			dups.Add(1) // a lost answer: an earlier attempt had applied it
		}
		ackedKeys[w] = append(ackedKeys[w], killAck{name, key, false, res.GetCommitTime().AsTime()})
		acked.Add(1)
		select {
		case progress <- struct{}{}:
		default:
		}
		return true
	})
	// awaitAcks waits for n more acknowledgements, so that every kill lands mid-load and the
	// service has recovered from the previous one; false once the load or the budget ended.
	awaitAcks := func(n int, deadline time.Time) bool {
		timeout := time.NewTimer(time.Until(deadline))
		defer timeout.Stop()
		for target := acked.Load() + int64(n); acked.Load() < target; {
			select {
			case <-progress:
			case <-load.Done():
				return false
			case <-timeout.C:
				return false
			}
		}
		return true
	}

	// The administrative calls. Each runs until acknowledged, first on replica first (-1: any),
	// and returns how many of its attempts failed.
	var resetSeq atomic.Int64
	reset := func(rng *rand.Rand, first int) int {
		adminInFlight.Add(1)
		defer adminInFlight.Add(-1)
		key := fmt.Sprintf("reset-%04d", resetSeq.Add(1))
		var res *tallyv1.ResetCounterResponse
		failed, err := untilAcknowledged(rng, len(clients), first, ackDeadline, &retries, func(ctx context.Context, r int) (err error) {
			res, err = clients[r].ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: resetCounter, IdempotencyKey: key})
			return err
		})
		if err != nil {
			t.Errorf("%s: %v", key, err)
			return failed
		}
		if res.GetDuplicate() {
			resetDups.Add(1)
		}
		resetsMu.Lock()
		resets = append(resets, killAck{resetCounter, key, true, res.GetCommitTime().AsTime()})
		resetsMu.Unlock()
		return failed
	}
	shardCounts := []int32{1, 2, 3, 4, 5, 8, 16, 32, 0} // 0: the server's default
	resize := func(rng *rand.Rand, first int) int {
		adminInFlight.Add(1)
		defer adminInFlight.Add(-1)
		name := []string{hotCounter, resetCounter}[rng.IntN(2)]
		n := shardCounts[rng.IntN(len(shardCounts))]
		failed, err := untilAcknowledged(rng, len(clients), first, ackDeadline, &retries, func(ctx context.Context, r int) error {
			_, err := clients[r].UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
				Counter:    &tallyv1.Counter{Name: name, ShardCount: n},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}},
			})
			return err
		})
		if err != nil {
			t.Errorf("resizing %s to %d shards: %v", name, n, err)
			return failed
		}
		resizes.Add(1)
		return failed
	}

	// Background resets, resizes and reads, each on a goroutine of its own, every few hundred
	// (reads: tens of) milliseconds: pauses that space them out, not waits for anything.
	var reads []killRead
	var readFailures atomic.Int64
	stopAdmin, stopReads := make(chan struct{}), make(chan struct{})
	var background, readers, killerAdmin sync.WaitGroup
	every := func(wg *sync.WaitGroup, stop chan struct{}, stream uint64, lo, hi time.Duration, f func(rng *rand.Rand)) {
		rng := rand.New(rand.NewPCG(seed, stream))
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(lo + time.Duration(rng.Int64N(int64(hi-lo)))):
				}
				f(rng)
			}
		})
	}
	every(&background, stopAdmin, 1001, 150*time.Millisecond, 600*time.Millisecond, func(rng *rand.Rand) { reset(rng, -1) })
	every(&background, stopAdmin, 1002, 150*time.Millisecond, 600*time.Millisecond, func(rng *rand.Rand) { resize(rng, -1) })
	every(&readers, stopReads, 1003, 20*time.Millisecond, 80*time.Millisecond, func(rng *rand.Rand) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := clients[rng.IntN(len(clients))].BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{hotCounter, resetCounter}})
		if err != nil {
			if permanent(err) {
				t.Errorf("reading the counters: %v", err)
			}
			readFailures.Add(1)
			return
		}
		cs := got.GetCounters()
		if len(cs) != 2 || !cs[0].GetReadTime().AsTime().Equal(cs[1].GetReadTime().AsTime()) {
			t.Errorf("BatchGetCounters answered %v: want both counters at one read time", cs)
			return
		}
		reads = append(reads, killRead{at: cs[0].GetReadTime().AsTime(), hot: cs[0].GetValue(), reset: cs[1].GetValue()})
	})

	rng := rand.New(rand.NewPCG(seed, 0))
	var targets []int // replica index, or replicaCount for the emulator: each about as often
	for i := range cfg.kills {
		targets = append(targets, i%(replicaCount+1))
	}
	rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	var killed, killedEmulator, aimed, duringAdmin int
	for i, target := range targets {
		if !awaitAcks(20+rng.IntN(60), deadline) {
			break
		}
		if rng.IntN(2) == 0 {
			// Aim the kill at an administrative call: send it (to the victim, if a replica) and
			// kill a moment later, while its transaction is likely under way.
			aimed++
			first := -1
			if target < replicaCount {
				first = target
			}
			opRng := rand.New(rand.NewPCG(seed, uint64(2000+i)))
			op := reset
			if opRng.IntN(2) == 0 {
				op = resize
			}
			killerAdmin.Go(func() {
				if op(opRng, first) > 0 {
					killerAdminRetry.Add(1)
				}
			})
			time.Sleep(time.Duration(rng.Int64N(int64(4 * time.Millisecond))))
		}
		if adminInFlight.Load() > 0 {
			duringAdmin++
		}
		// A restart SIGKILLs the process and starts it again on its address and data.
		if target == replicaCount {
			em = em.Restart(t)
			killedEmulator++
		} else {
			replicas[target] = replicas[target].Restart(t)
		}
		killed++
	}
	// The last reset is followed by increments, so that the final value checks a stretch.
	close(stopAdmin)
	background.Wait()
	killerAdmin.Wait()
	awaitAcks(100, time.Now().Add(30*time.Second)) // progress after the last restart and the last reset
	load.Stop()
	close(stopReads)
	readers.Wait()
	loadTime := time.Since(started)

	var keys []killAck
	for _, k := range ackedKeys {
		keys = append(keys, k...)
	}
	var hotTimes, incTimes, resetTimes []int64
	for _, k := range keys {
		if k.counter == hotCounter {
			hotTimes = append(hotTimes, k.commit.UnixNano())
		} else {
			incTimes = append(incTimes, k.commit.UnixNano())
		}
	}
	for _, r := range resets {
		resetTimes = append(resetTimes, r.commit.UnixNano())
	}
	m := newKillModel(hotTimes, incTimes, resetTimes)
	segments, longest := m.segments()
	wantHot, wantReset := m.hotAt(1<<62), m.resetAt(1<<62)
	t.Logf("%d kills (%d of the emulator, %d of replicas) in %v; %d aimed at a resize or reset, %d while one was in flight, %d of the aimed calls needing a retry",
		killed, killedEmulator, killed-killedEmulator, loadTime.Round(time.Millisecond), aimed, duringAdmin, killerAdminRetry.Load())
	t.Logf("%d keys acknowledged (%d on %s, %d on %s), %d of them as duplicates of an attempt whose answer was lost",
		len(keys), len(hotTimes), hotCounter, len(incTimes), resetCounter, dups.Load())
	t.Logf("%d resizes, %d resets (%d of them duplicates of an attempt whose answer was lost), cutting %s into %d stretches (longest %d increments, last %d); %d reads (%d failed attempts)",
		resizes.Load(), len(resets), resetDups.Load(), resetCounter, segments, longest, wantReset, len(reads), readFailures.Load())
	t.Logf("%d failed attempts, retried: %v", retries.total(), &retries)
	t.Logf("summary: kills=%d emulator_kills=%d replica_kills=%d kills_during_admin=%d keys=%d duplicates=%d retries=%d resizes=%d resets=%d reset_duplicates=%d reads=%d load=%ds",
		killed, killedEmulator, killed-killedEmulator, duringAdmin, len(keys), dups.Load(), retries.total(),
		resizes.Load(), len(resets), resetDups.Load(), len(reads), int(loadTime.Seconds()))
	if killed < cfg.minKills {
		t.Errorf("only %d kills within the budget of %v, want at least %d", killed, cfg.budget, cfg.minKills)
	}
	if err := m.ambiguity(); err != nil {
		t.Error(err)
	}

	check := func(when string) {
		for i, c := range clients {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			got, err := c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{hotCounter, resetCounter}}, grpc.WaitForReady(true))
			cancel()
			if err != nil {
				t.Fatalf("%s: replica %d: %v", when, i, err)
			}
			cs := got.GetCounters()
			if v := cs[0].GetValue(); v != wantHot {
				t.Errorf("%s: replica %d reads %s = %d, want %d: one per acknowledged key", when, i, hotCounter, v, wantHot)
			}
			if v := cs[1].GetValue(); v != wantReset {
				t.Errorf("%s: replica %d reads %s = %d, want %d: one per key acknowledged after the last reset", when, i, resetCounter, v, wantReset)
			}
		}
	}
	check("after the load")

	// Every read during the run, at its read time.
	wrong := 0
	for _, r := range reads {
		at := r.at.UnixNano()
		if h, x := m.hotAt(at), m.resetAt(at); r.hot != h || r.reset != x {
			if wrong++; wrong <= 10 {
				t.Errorf("read at %s: %s = %d, %s = %d; want %d and %d from the acknowledged commits",
					r.at.Format(time.RFC3339Nano), hotCounter, r.hot, resetCounter, r.reset, h, x)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d reads during the run disagree with the acknowledged commits", wrong, len(reads))
	}

	// Each key and each reset again must be a duplicate naming its original commit: its record
	// says it was applied, and when.
	again := append(append([]killAck(nil), keys...), resets...)
	var repeat sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(workers+w)+1))
		repeat.Go(func() {
			for i := w; i < len(again); i += workers {
				a := again[i]
				var dup bool
				var commit time.Time
				_, err := untilAcknowledged(rng, len(clients), -1, time.Now().Add(30*time.Second), new(retryCounts), func(ctx context.Context, r int) error {
					if a.reset {
						res, err := clients[r].ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: a.counter, IdempotencyKey: a.key})
						dup, commit = res.GetDuplicate(), res.GetCommitTime().AsTime()
						return err
					}
					res, err := clients[r].Increment(ctx, &tallyv1.IncrementRequest{Name: a.counter, Delta: 1, IdempotencyKey: a.key})
					dup, commit = res.GetDuplicate(), res.GetCommitTime().AsTime()
					return err
				})
				switch {
				case err != nil:
					t.Errorf("repeating %s on %s: %v", a.key, a.counter, err)
					return
				case !dup:
					t.Errorf("%s on %s applied again when repeated: its acknowledged request left no record", a.key, a.counter)
				case !commit.Equal(a.commit):
					t.Errorf("%s on %s: acknowledged as committed at %s, its repeat says %s", a.key, a.counter,
						a.commit.Format(time.RFC3339Nano), commit.Format(time.RFC3339Nano))
				}
			}
		})
	}
	repeat.Wait()
	check("after repeating every key and reset")
}

// permanent says err fails the test at once rather than being retried: the test's request is
// wrong, the service broke a promise (a key reused, a counter gone), or it answered INTERNAL or
// UNKNOWN, which tell a client neither that nothing was applied nor that a retry may succeed.
// A kill must cost a client retries of UNAVAILABLE (or an attempt's DEADLINE_EXCEEDED), never a
// code that makes it give up on a valid request.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition,
		codes.OutOfRange, codes.Unimplemented, codes.PermissionDenied, codes.Unauthenticated,
		codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// untilAcknowledged calls call with a random replica's index (the first time, first's, unless
// it is -1), retrying on any error that is not permanent (after a short, growing pause, on
// another random replica) until one answers OK or the deadline passes. It returns how many
// attempts failed, and counts them in retries; a permanent error comes back naming the replica
// and the attempt.
func untilAcknowledged(rng *rand.Rand, replicas, first int, deadline time.Time, retries *retryCounts, call func(ctx context.Context, replica int) error) (int, error) {
	pause := 5 * time.Millisecond
	for failed := 0; ; failed++ {
		r := first
		if failed > 0 || r < 0 {
			r = rng.IntN(replicas)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := call(ctx, r)
		cancel()
		if err == nil {
			return failed, nil
		}
		retries.add(err)
		if permanent(err) {
			return failed + 1, fmt.Errorf("replica %d answered attempt %d with %w", r, failed+1, err)
		}
		if time.Now().After(deadline) {
			return failed + 1, fmt.Errorf("not acknowledged in time: %w", err)
		}
		// A client's retry pause, not a wait for a server: the next attempt may go elsewhere.
		time.Sleep(pause/2 + time.Duration(rng.Int64N(int64(pause))))
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// incrementUntilAcknowledged adds 1 to the counter name with key, through random replicas, until
// acknowledged (see untilAcknowledged), and returns the acknowledgement.
func incrementUntilAcknowledged(rng *rand.Rand, clients []tallyv1.CounterServiceClient, name, key string, deadline time.Time, retries *retryCounts) (*tallyv1.IncrementResponse, error) {
	var res *tallyv1.IncrementResponse
	_, err := untilAcknowledged(rng, len(clients), -1, deadline, retries, func(ctx context.Context, r int) (err error) {
		res, err = clients[r].Increment(ctx, &tallyv1.IncrementRequest{Name: name, Delta: 1, IdempotencyKey: key})
		return err
	})
	return res, err
}

// dialReplica connects to a replica that will be killed and restarted: reconnecting quickly,
// rather than after gRPC's default backoff of up to two minutes.
func dialReplica(t *testing.T, addr string) tallyv1.CounterServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return tallyv1.NewCounterServiceClient(conn)
}
