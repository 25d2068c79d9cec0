package emulator_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestCrashKeepsAcknowledgedWrites runs the emulator binary as a separate process, SIGKILLs it at
// random moments while writers commit increments, restarts it on the same data directory, and
// checks every document: acknowledged increments ≤ value ≤ sent increments. The writers use the
// raw generated client, which never retries, so "sent" is exact.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and repeatedly kills the emulator binary")
	}
	bin := buildEmulator(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)

	const writers, docs, kills = 8, 16, 5
	proc := startEmulatorProcess(t, bin, addr, dataDir)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewFirestoreClient(conn)
	db := "projects/crash/databases/(default)"
	docName := func(i int) string { return fmt.Sprintf("%s/documents/counters/c%02d", db, i) }

	var sent, acked [docs]atomic.Int64
	acks := make(chan struct{}, 1<<16)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for ctx.Err() == nil {
				d := rng.IntN(docs)
				sent[d].Add(1)
				_, err := client.Commit(ctx, &pb.CommitRequest{Database: db, Writes: []*pb.Write{incrementWrite(docName(d))}},
					grpc.WaitForReady(true))
				if err == nil {
					acked[d].Add(1)
					select {
					case acks <- struct{}{}:
					default:
					}
				}
			}
		}()
	}

	// awaitAcks waits for n further acknowledgements, so that kills land mid-stream.
	awaitAcks := func(n int) {
		for range n {
			select {
			case <-acks:
			case <-proc.exited:
				t.Fatalf("emulator exited on its own: %v", proc.err)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range kills {
		awaitAcks(100 + rng.IntN(900))
		proc.kill(t)
		proc = startEmulatorProcess(t, bin, addr, dataDir)
	}
	awaitAcks(200)
	stop()
	wg.Wait()

	var sumSent, sumAcked, sum int64
	for d := range docs {
		resp, err := client.GetDocument(context.Background(), &pb.GetDocumentRequest{Name: docName(d)}, grpc.WaitForReady(true))
		var v int64
		if err == nil {
			v = resp.GetFields()["n"].GetIntegerValue()
		} else if acked[d].Load() > 0 {
			t.Fatalf("document %d: %v", d, err)
		}
		if v < acked[d].Load() || v > sent[d].Load() {
			t.Errorf("document %d: value %d, acknowledged %d, sent %d", d, v, acked[d].Load(), sent[d].Load())
		}
		sumSent += sent[d].Load()
		sumAcked += acked[d].Load()
		sum += v
	}
	t.Logf("%d kills: sent %d, acknowledged %d, stored %d", kills, sumSent, sumAcked, sum)
	proc.kill(t)
}

func incrementWrite(name string) *pb.Write {
	return &pb.Write{
		Operation: &pb.Write_Transform{Transform: &pb.DocumentTransform{
			Document: name,
			FieldTransforms: []*pb.DocumentTransform_FieldTransform{{
				FieldPath:     "n",
				TransformType: &pb.DocumentTransform_FieldTransform_Increment{Increment: &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: 1}}},
			}},
		}},
	}
}

// buildEmulator compiles cmd/firestore-emulator into a temporary directory.
func buildEmulator(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "firestore-emulator")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/firestore-emulator")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the emulator: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// emulatorProcess is the emulator binary running as a child process.
type emulatorProcess struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
	err    error         // its exit error, valid once exited is closed
}

// startEmulatorProcess starts the binary and returns once it printed its address, i.e. serves.
func startEmulatorProcess(t *testing.T, bin, addr, dataDir string) *emulatorProcess {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--host", host, "--port", port, "--data-dir", dataDir, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &emulatorProcess{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "export FIRESTORE_EMULATOR_HOST="+addr) {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("emulator exited before serving: %v", p.err)
	case <-time.After(30 * time.Second):
		p.kill(t)
		t.Fatal("emulator did not start serving within 30s")
	}
	t.Cleanup(func() { p.kill(t) })
	return p
}

// kill SIGKILLs the process (if still running) and waits until it is gone.
func (p *emulatorProcess) kill(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Logf("killing emulator: %v", err)
	}
	<-p.exited
}
