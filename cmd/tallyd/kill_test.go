package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tally-dev/tally/internal/testload"
	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestSIGKILLedReplicasCountEveryKeyOnce runs three tallyd replicas on one durable emulator, all
// as processes, while clients send keyed increments of one counter to random replicas and retry
// each key, on any error and on a random replica, until it is acknowledged. Meanwhile replicas
// and the emulator are SIGKILLed and restarted on their addresses. In the end the counter holds
// exactly one per acknowledged key, and every key is known as applied.
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
	const (
		replicaCount = 3
		workers      = 8
		maxKeys      = 1500
		kills        = 12
		// budget bounds the load and the kills (about 15 s are usual): with the builds before
		// and the checks after, the test stays within a minute.
		budget = 30 * time.Second
	)
	bins := buildBinaries(t)

	// Every process keeps its address across restarts: the replicas find the emulator through a
	// fixed FIRESTORE_EMULATOR_HOST, the clients the replicas through fixed addresses.
	emAddr := testproc.FreeAddr(t)
	emHost, emPort, _ := net.SplitHostPort(emAddr)
	em := testproc.StartEmulator(t, bins.emulator, "--host", emHost, "--port", emPort, "--data-dir", t.TempDir())
	replicas := make([]*testproc.Process, replicaCount)
	clients := make([]tallyv1.CounterServiceClient, replicaCount)
	for i := range replicas {
		replicas[i] = startReplica(t, bins.tallyd, emAddr, testproc.FreeAddr(t))
		clients[i] = dialReplica(t, replicas[i].Addr)
	}
	deadline := time.Now().Add(budget)

	var issued, duplicates, retries atomic.Int64
	ackedKeys := make([][]string, workers) // per worker, so that no lock is needed
	rngs := make([]*rand.Rand, workers)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(seed, uint64(w)+1))
	}
	acks := make(chan struct{}, maxKeys)
	load := testload.Start(workers, func(w int) bool {
		n := issued.Add(1)
		if n > maxKeys {
			return false
		}
		key := fmt.Sprintf("key-%04d", n)
		dup, err := incrementUntilAcknowledged(rngs[w], clients, key, deadline.Add(10*time.Second), &retries)
		if err != nil {
			t.Errorf("key %s: %v", key, err)
			return false
		}
		if dup {
			duplicates.Add(1) // a lost answer: an earlier attempt had applied it
		}
		ackedKeys[w] = append(ackedKeys[w], key)
		acks <- struct{}{}
		return true
	})
	// awaitAcks waits for n more acknowledgements, so that every kill lands mid-load and the
	// service has recovered from the previous one; false once the load or the budget ended.
	awaitAcks := func(n int) bool {
		timeout := time.NewTimer(time.Until(deadline))
		defer timeout.Stop()
		for range n {
			select {
			case <-acks:
			case <-load.Done():
				return false
			case <-timeout.C:
				return false
			}
		}
		return true
	}

	rng := rand.New(rand.NewPCG(seed, 0))
	var targets []int // replica index, or replicaCount for the emulator: each about as often
	for i := range kills {
		targets = append(targets, i%(replicaCount+1))
	}
	rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	killed := 0
	for _, target := range targets {
		if !awaitAcks(20 + rng.IntN(60)) {
			break
		}
		// A restart SIGKILLs the process and starts it again on its address and data.
		if target == replicaCount {
			em = em.Restart(t)
		} else {
			replicas[target] = replicas[target].Restart(t)
		}
		killed++
	}
	awaitAcks(100) // progress after the last restart
	load.Stop()

	var keys []string
	for _, k := range ackedKeys {
		keys = append(keys, k...)
	}
	t.Logf("%d kills; %d keys acknowledged after %d failed attempts, %d of them as duplicates of an attempt whose answer was lost",
		killed, len(keys), retries.Load(), duplicates.Load())
	if killed < 10 {
		t.Errorf("only %d kills within the budget, want at least 10", killed)
	}
	for i, c := range clients {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		got, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/chaos"}, grpc.WaitForReady(true))
		cancel()
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		if got.GetValue() != int64(len(keys)) {
			t.Errorf("replica %d reads %d, want %d: one per acknowledged key", i, got.GetValue(), len(keys))
		}
	}
	// Each key again must be a duplicate: its record says it was applied.
	var repeat sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(workers+w)+1))
		repeat.Add(1)
		go func() {
			defer repeat.Done()
			for i := w; i < len(keys); i += workers {
				dup, err := incrementUntilAcknowledged(rng, clients, keys[i], time.Now().Add(30*time.Second), new(atomic.Int64))
				if err != nil {
					t.Errorf("repeating key %s: %v", keys[i], err)
					return
				}
				if !dup {
					t.Errorf("key %s applied again when repeated: its acknowledged increment left no record", keys[i])
				}
			}
		}()
	}
	repeat.Wait()
}

// incrementUntilAcknowledged adds 1 to counters/chaos with key, through a random replica,
// retrying on any error (after a short, growing pause, on another random replica) until one
// answers OK or the deadline passes. It returns whether the answer was a duplicate, and counts
// the failed attempts in retries.
func incrementUntilAcknowledged(rng *rand.Rand, clients []tallyv1.CounterServiceClient, key string, deadline time.Time, retries *atomic.Int64) (bool, error) {
	pause := 5 * time.Millisecond
	for ; ; retries.Add(1) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := clients[rng.IntN(len(clients))].Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/chaos", Delta: 1, IdempotencyKey: key})
		cancel()
		if err == nil {
			return resp.GetDuplicate(), nil
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("not acknowledged in time: %w", err)
		}
		// A client's retry pause, not a wait for a server: the next attempt may go elsewhere.
		time.Sleep(pause/2 + time.Duration(rng.Int64N(int64(pause))))
		pause = min(2*pause, 200*time.Millisecond)
	}
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
