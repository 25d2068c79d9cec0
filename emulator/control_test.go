package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"golang.org/x/net/http2"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/ttl"
)

// httpClients are the two ways to reach the control endpoints: HTTP/1.1, and HTTP/2 with prior
// knowledge (h2c), as curl --http2-prior-knowledge does.
func httpClients() map[string]*http.Client {
	return map[string]*http.Client{
		"http1": {Transport: &http.Transport{ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}},
		"h2c": {Transport: &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}},
	}
}

func do(t *testing.T, c *http.Client, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestControlEndpointsBesideGRPC: both HTTP protocols reach the control endpoints on the gRPC
// port while the official client uses the same port.
func TestControlEndpointsBesideGRPC(t *testing.T) {
	t.Parallel()
	em := startEmulator(t)
	client := emulatortest.NewClient(t, em.Addr(), project)
	ctx := context.Background()
	base := "http://" + em.Addr()

	// gRPC traffic throughout.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var grpcCalls atomic.Int64
	grpcErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			doc := client.Collection("live").Doc(fmt.Sprint(i % 10))
			if _, err := doc.Set(ctx, map[string]any{"i": i}); err != nil {
				grpcErr <- err
				return
			}
			if _, err := doc.Get(ctx); err != nil {
				grpcErr <- err
				return
			}
			grpcCalls.Add(1)
		}
	}()

	for name, c := range httpClients() {
		t.Run(name, func(t *testing.T) {
			wantProto := map[string]int{"http1": 1, "h2c": 2}[name]
			for range 3 { // several requests, on one kept-alive connection
				resp, body := do(t, c, http.MethodGet, base+"/")
				if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != "Ok" || resp.ProtoMajor != wantProto {
					t.Fatalf("GET /: %s %s %q, want 200 over HTTP/%d with Ok", resp.Proto, resp.Status, body, wantProto)
				}
			}
			for _, tt := range []struct {
				method, path string
				want         int
			}{
				{http.MethodGet, "/nothing", http.StatusNotFound},
				{http.MethodGet, "/emulator/v1/projects/p/databases/(default)/documents", http.StatusMethodNotAllowed},
				{http.MethodDelete, "/emulator/v1/projects/p/databases/%ff/documents", http.StatusBadRequest},
				{http.MethodDelete, "/emulator/v1/projects/p/databases/(default)/documents", http.StatusOK},
			} {
				if resp, body := do(t, c, tt.method, base+tt.path); resp.StatusCode != tt.want {
					t.Errorf("%s %s: %s %q, want %d", tt.method, tt.path, resp.Status, body, tt.want)
				}
			}
		})
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-grpcErr:
		t.Fatalf("gRPC beside HTTP: %v", err)
	default:
	}
	if grpcCalls.Load() == 0 {
		t.Fatal("no gRPC call completed beside the HTTP requests")
	}
}

// TestGRPCOnAnH2CConnectionOfTheControlEndpoints: a connection whose first request was a
// control request still answers gRPC requests, as one HTTP/2 client sending both would.
func TestGRPCOnAnH2CConnectionOfTheControlEndpoints(t *testing.T) {
	t.Parallel()
	em := startEmulator(t)
	client := emulatortest.NewClient(t, em.Addr(), project)
	ctx := context.Background()
	if _, err := client.Collection("c").Doc("d").Set(ctx, map[string]any{"n": 7}); err != nil {
		t.Fatal(err)
	}
	h2c := httpClients()["h2c"]
	if resp, _ := do(t, h2c, http.MethodGet, "http://"+em.Addr()+"/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", resp.Status)
	}
	msg, err := proto.Marshal(&pb.GetDocumentRequest{Name: "projects/" + project + "/databases/(default)/documents/c/d"})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 5+len(msg)) // gRPC's length-prefixed message
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(msg)))
	copy(frame[5:], msg)
	req, err := http.NewRequest(http.MethodPost, "http://"+em.Addr()+"/google.firestore.v1.Firestore/GetDocument", bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := h2c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Trailer.Get("Grpc-Status"); st != "0" || len(body) < 5 {
		t.Fatalf("gRPC over the control connection: status %q (%s), %d bytes", st, resp.Trailer.Get("Grpc-Message"), len(body))
	}
	var doc pb.Document
	if err := proto.Unmarshal(body[5:], &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.GetFields()["n"].GetIntegerValue(); got != 7 {
		t.Fatalf("n = %d, want 7", got)
	}
}

// TestClearDatabase: DELETE .../documents empties one database (subcollections too) and
// leaves the others, keeps the TTL index consistent, and orders with concurrent commits:
// everything acknowledged before it began is gone, everything written after it returned stays.
func TestClearDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policies := []ttl.Policy{{CollectionGroup: "sessions", Field: "expire_at"}}
	em, err := emulator.Start(context.Background(), emulator.Options{DataDir: dir, TTL: policies, TTLInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = em.Close()
		}
	})
	ctx := context.Background()
	def := clientFor(t, em, project, "")
	other := clientFor(t, em, project, "other")
	otherProject := clientFor(t, em, "another-project", "")

	// More documents than one clearing commit deletes, at several depths, some with expiry.
	bw := def.BulkWriter(ctx)
	for i := range 1100 {
		doc := def.Collection("items").Doc(fmt.Sprintf("d%04d", i))
		if _, err := bw.Set(doc, map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if _, err := bw.Set(doc.Collection("sub").Doc("s"), map[string]any{"i": i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	past := time.Now().Add(-time.Hour)
	for i := range 5 {
		if _, err := bw.Set(def.Collection("sessions").Doc(fmt.Sprint(i)), map[string]any{"expire_at": past}); err != nil {
			t.Fatal(err)
		}
	}
	bw.End()
	for _, c := range []*firestore.Client{other, otherProject} {
		if _, err := c.Collection("items").Doc("kept").Set(ctx, map[string]any{"k": true}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Collection("sessions").Doc("kept").Set(ctx, map[string]any{"expire_at": time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}

	// A writer beside the clearing.
	var acked atomic.Int64         // documents w0..w(acked-1) are acknowledged
	tick := make(chan struct{}, 1) // signalled after each acknowledgement
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := def.Collection("writer").Doc(fmt.Sprintf("w%06d", i)).Set(ctx, map[string]any{"i": i}); err != nil {
				writerDone <- err
				return
			}
			acked.Store(i + 1)
			select {
			case tick <- struct{}{}:
			default:
			}
		}
	}()
	waitAcked := func(n int64) {
		for acked.Load() < n {
			select {
			case <-tick:
			case err := <-writerDone:
				t.Fatalf("the writer stopped: %v", err)
			}
		}
	}
	waitAcked(5)
	before := acked.Load()
	resp, body := do(t, httpClients()["http1"], http.MethodDelete, "http://"+em.Addr()+"/emulator/v1/projects/"+project+"/databases/(default)/documents")
	after := acked.Load()
	// Let the writer commit a few after the clearing, then stop it.
	waitAcked(after + 3)
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != "{}" {
		t.Fatalf("DELETE: %s %q, want 200 {}", resp.Status, body)
	}

	for _, name := range []string{"d0000", "d0499", "d0500", "d1099"} {
		mustNotExist(t, def.Collection("items").Doc(name))
	}
	mustNotExist(t, def.Collection("items").Doc("d0100").Collection("sub").Doc("s"))
	mustNotExist(t, def.Collection("sessions").Doc("0"))
	for i := range before {
		mustNotExist(t, def.Collection("writer").Doc(fmt.Sprintf("w%06d", i)))
	}
	for i := after + 1; i < acked.Load(); i++ { // written after the clearing returned
		mustGet(t, def.Collection("writer").Doc(fmt.Sprintf("w%06d", i)))
	}
	for _, c := range []*firestore.Client{other, otherProject} {
		mustGet(t, c.Collection("items").Doc("kept"))
		mustGet(t, c.Collection("sessions").Doc("kept"))
	}
	// The TTL index still works: what expires now is deleted, and nothing cleared returns.
	if _, err := def.Collection("sessions").Doc("new").Set(ctx, map[string]any{"expire_at": past}); err != nil {
		t.Fatal(err)
	}
	if n, err := em.SweepTTL(ctx); err != nil || n != 1 {
		t.Fatalf("SweepTTL after the clearing: %d, %v; want 1 deleted", n, err)
	}
	closed = true
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	expiry, err := ttl.StorageExpiry(policies)
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Options{Dir: dir, Expiry: expiry})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("storage after the clearing: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// TestCloseWithIdleConnections: connections that sent nothing, only the HTTP/2 preface (a gRPC
// client before its first call), or a finished HTTP/1.1 request (kept alive) do not keep Close
// waiting, and are closed by it.
func TestCloseWithIdleConnections(t *testing.T) {
	t.Parallel()
	em, err := emulator.Start(context.Background(), emulator.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", em.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	silent := dial()
	preface := dial()
	if _, err := preface.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	keptAlive := dial()
	if _, err := io.WriteString(keptAlive, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(keptAlive), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / over a raw connection: %v, %v", resp, err)
	}
	_ = resp.Body.Close()
	// The preface connection is answered with a SETTINGS frame before any request.
	fr := http2.NewFramer(nil, preface)
	if f, err := fr.ReadFrame(); err != nil || f.Header().Type != http2.FrameSettings {
		t.Fatalf("first frame after the preface: %v, %v; want SETTINGS", f, err)
	}
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"silent": silent, "preface": preface, "kept alive": keptAlive} {
		if _, err := io.ReadAll(c); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			t.Errorf("%s connection: %v", name, err)
		}
	}
}

// isReset reports a connection the other side reset, which closing it with unread data does.
func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }
