package auth

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// TestOpenServices: health checking and reflection answer without credentials.
func TestOpenServices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{principals: testPrincipals})
	ctx := testContext(t)
	health := healthpb.NewHealthClient(e.conn)
	if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health Check: %v", err)
	}
	watch, err := health.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = watch.Recv()
	}
	if err != nil {
		t.Errorf("health Watch: %v", err)
	}
	refl, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctx)
	if err == nil {
		err = refl.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	}
	if err == nil {
		_, err = refl.Recv()
	}
	if err != nil {
		t.Errorf("reflection: %v", err)
	}
}

// fakeStream is a server stream with only a context, for calling the stream interceptor directly.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s fakeStream) Context() context.Context { return s.ctx }

// TestUnknownMethods: a method without a rule is refused to every principal, unary or stream,
// of tally.v1 or of another service; with auth off it is the server's to answer.
func TestUnknownMethods(t *testing.T) {
	t.Parallel()
	on := newEnv(t, envOptions{principals: testPrincipals}).auth
	off, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin := metadata.NewIncomingContext(context.Background(), metadata.Pairs(TokenHeader, tokAdmin))
	nobody := context.Background()
	methods := []string{"/tally.v1.CounterService/Explode", "/tally.v1.AdminService/Wipe", "/grpc.channelz.v1.Channelz/GetServers"}
	tests := []struct {
		name string
		auth *Auth
		ctx  context.Context
		want codes.Code
	}{
		{"admin", on, admin, codes.PermissionDenied},
		{"no credentials", on, nobody, codes.Unauthenticated},
		{"auth off", off, nobody, codes.OK},
	}
	for _, tt := range tests {
		for _, method := range methods {
			t.Run(tt.name+method, func(t *testing.T) {
				called := false
				_, err := tt.auth.UnaryInterceptor()(tt.ctx, struct{}{}, &grpc.UnaryServerInfo{FullMethod: method},
					func(context.Context, any) (any, error) { called = true; return nil, nil })
				if status.Code(err) != tt.want || called != (tt.want == codes.OK) {
					t.Errorf("unary: %v, handler called %v; want %v", err, called, tt.want)
				}
				called = false
				err = tt.auth.StreamInterceptor()(nil, fakeStream{ctx: tt.ctx}, &grpc.StreamServerInfo{FullMethod: method},
					func(any, grpc.ServerStream) error { called = true; return nil })
				if status.Code(err) != tt.want || called != (tt.want == codes.OK) {
					t.Errorf("stream: %v, handler called %v; want %v", err, called, tt.want)
				}
			})
		}
	}
}
