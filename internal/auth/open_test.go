package auth

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
)

// TestOpenServices: health checking and reflection, both versions the server registers, answer
// without credentials while authentication is on.
func TestOpenServices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{principals: testPrincipals})
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"health Check", func(ctx context.Context) error {
			_, err := healthpb.NewHealthClient(e.conn).Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}},
		{"health Watch", func(ctx context.Context) error {
			watch, err := healthpb.NewHealthClient(e.conn).Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				return err
			}
			_, err = watch.Recv()
			return err
		}},
		{"reflection v1", func(ctx context.Context) error {
			refl, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctx)
			if err != nil {
				return err
			}
			if err := refl.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
				return err
			}
			_, err = refl.Recv()
			return err
		}},
		{"reflection v1alpha", func(ctx context.Context) error {
			refl, err := reflectionv1alphapb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctx)
			if err != nil {
				return err
			}
			if err := refl.Send(&reflectionv1alphapb.ServerReflectionRequest{MessageRequest: &reflectionv1alphapb.ServerReflectionRequest_ListServices{}}); err != nil {
				return err
			}
			_, err = refl.Recv()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.call(testContext(t)); err != nil {
				t.Errorf("%s without credentials: %v", tt.name, err)
			}
		})
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
