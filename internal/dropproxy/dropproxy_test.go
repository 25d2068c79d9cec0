package dropproxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const checkMethod = "/grpc.health.v1.Health/Check"

// backend is a gRPC health server that records the calls its handlers ran, with the x-test
// header they carried.
type backend struct {
	addr   string
	health *health.Server

	mu    sync.Mutex
	calls []string // the x-test header of each call handled
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{health: health.NewServer()}
	record := func(ctx context.Context) {
		md, _ := metadata.FromIncomingContext(ctx)
		b.mu.Lock()
		b.calls = append(b.calls, append(md.Get("x-test"), "")[0])
		b.mu.Unlock()
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			record(ctx)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			record(ss.Context())
			return h(srv, ss)
		}))
	healthpb.RegisterHealthServer(srv, b.health)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("backend: %v", err)
		}
	})
	b.addr = lis.Addr().String()
	return b
}

func (b *backend) handled() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

func healthClient(t *testing.T, addr string) healthpb.HealthClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestUnaryFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		fault       Fault
		service     string // the service checked; "" is the server's overall health
		wantCode    codes.Code
		wantHandled bool
		wantDropped int
	}{
		{"forward", Fault{}, "", codes.OK, true, 0},
		{"drop the answer", Fault{Action: DropAnswer}, "", codes.Unavailable, true, 1},
		{"break the connection", Fault{Action: BreakConnection}, "", codes.Unavailable, true, 1},
		{"refuse", Fault{Action: Refuse, Code: codes.ResourceExhausted}, "", codes.ResourceExhausted, false, 0},
		{"refuse as unavailable by default", Fault{Action: Refuse}, "", codes.Unavailable, false, 0},
		// An error of the backend is its answer: passed through, nothing to drop.
		{"the backend's error", Fault{Action: DropAnswer}, "no-such-service", codes.NotFound, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBackend(t)
			var struck int
			fault := tc.fault
			fault.Struck = func() { struck++ }
			p := Start(t, b.addr, func(c Call) Fault {
				if c.Method != checkMethod || c.N != 1 {
					t.Errorf("plan saw %+v, want the first %s", c, checkMethod)
				}
				return fault
			})
			ctx := metadata.AppendToOutgoingContext(testContext(t), "x-test", "token-1")
			resp, err := healthClient(t, p.Addr()).Check(ctx, &healthpb.HealthCheckRequest{Service: tc.service})
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("Check: %v, want %v", err, tc.wantCode)
			}
			if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("the answer did not come through: %v", resp)
			}
			handled := b.handled()
			if tc.wantHandled && (len(handled) != 1 || handled[0] != "token-1") {
				t.Errorf("backend handled %q, want one call carrying token-1", handled)
			}
			if !tc.wantHandled && len(handled) != 0 {
				t.Errorf("backend handled %q, want nothing", handled)
			}
			if p.Seen(checkMethod) != 1 || p.Dropped(checkMethod) != tc.wantDropped || struck != tc.wantDropped {
				t.Errorf("seen %d, dropped %d, struck %d; want 1, %d, %d", p.Seen(checkMethod), p.Dropped(checkMethod), struck, tc.wantDropped, tc.wantDropped)
			}
			if wantForwarded := map[bool]int{true: 1, false: 0}[tc.wantHandled]; p.Forwarded(checkMethod) != wantForwarded {
				t.Errorf("forwarded %d, want %d", p.Forwarded(checkMethod), wantForwarded)
			}
		})
	}
}

// TestStreamBreaksAfterMessages lets the first answer of a server stream through and loses the
// second.
func TestStreamBreaksAfterMessages(t *testing.T) {
	t.Parallel()
	for _, action := range []Action{DropAnswer, BreakConnection} {
		t.Run(action.String(), func(t *testing.T) {
			t.Parallel()
			b := startBackend(t)
			p := Start(t, b.addr, func(Call) Fault { return Fault{Action: action, Messages: 1} })
			stream, err := healthClient(t, p.Addr()).Watch(testContext(t), &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			first, err := stream.Recv()
			if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("first answer %v, %v; want SERVING", first, err)
			}
			b.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			if second, err := stream.Recv(); status.Code(err) != codes.Unavailable {
				t.Fatalf("second answer %v, %v; want UNAVAILABLE", second, err)
			}
			if p.Dropped("/grpc.health.v1.Health/Watch") != 1 {
				t.Errorf("dropped %d, want 1", p.Dropped("/grpc.health.v1.Health/Watch"))
			}
		})
	}
}

func TestEvery(t *testing.T) {
	t.Parallel()
	plan := Every("/s/M", 3, Fault{Action: DropAnswer})
	for n := 1; n <= 7; n++ {
		want := Forward
		if n%3 == 0 {
			want = DropAnswer
		}
		if got := plan(Call{Method: "/s/M", N: n}).Action; got != want {
			t.Errorf("call %d of /s/M: %v, want %v", n, got, want)
		}
		if got := plan(Call{Method: "/s/Other", N: n}).Action; got != Forward {
			t.Errorf("call %d of /s/Other: %v, want forward", n, got)
		}
	}
}
