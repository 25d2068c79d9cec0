package emulator_test

import (
	"context"
	"sync"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// listenTap sits between the official client and the emulator on Listen streams: it records
// what the client adds and receives, can break the stream the way a network failure does, and
// can hold new streams back until the test is ready for the client to reconnect.
type listenTap struct {
	mu        sync.Mutex
	adds      []*pb.Target  // every target the client added, in order
	received  []string      // every response, described, in order
	breakNext bool          // the next response received fails the stream with UNAVAILABLE instead
	gate      chan struct{} // when set, new Listen streams wait until it is closed
}

const listenMethod = "/google.firestore.v1.Firestore/Listen"

func (tap *listenTap) dialOption() grpc.DialOption {
	return grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if method != listenMethod {
			return streamer(ctx, desc, cc, method, opts...)
		}
		tap.mu.Lock()
		gate := tap.gate
		tap.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ctx, cancel := context.WithCancel(ctx)
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		return &tappedStream{ClientStream: cs, tap: tap, cancel: cancel}, nil
	})
}

// breakOnNextResponse makes the next response fail the stream, and holds the client's
// reconnection until release is called.
func (tap *listenTap) breakOnNextResponse() (release func()) {
	gate := make(chan struct{})
	tap.mu.Lock()
	tap.breakNext = true
	tap.gate = gate
	tap.mu.Unlock()
	return func() {
		tap.mu.Lock()
		tap.gate = nil
		tap.mu.Unlock()
		close(gate)
	}
}

// holdReconnects holds new streams until the returned release is called.
func (tap *listenTap) holdReconnects() (release func()) {
	gate := make(chan struct{})
	tap.mu.Lock()
	tap.gate = gate
	tap.mu.Unlock()
	return func() {
		tap.mu.Lock()
		tap.gate = nil
		tap.mu.Unlock()
		close(gate)
	}
}

func (tap *listenTap) snapshot() (adds []*pb.Target, received []string) {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return append([]*pb.Target(nil), tap.adds...), append([]string(nil), tap.received...)
}

type tappedStream struct {
	grpc.ClientStream
	tap    *listenTap
	cancel context.CancelFunc
}

func (s *tappedStream) SendMsg(m any) error {
	if r, ok := m.(*pb.ListenRequest); ok && r.GetAddTarget() != nil {
		s.tap.mu.Lock()
		s.tap.adds = append(s.tap.adds, r.GetAddTarget())
		s.tap.mu.Unlock()
	}
	return s.ClientStream.SendMsg(m)
}

func (s *tappedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.cancel()
		return err
	}
	s.tap.mu.Lock()
	defer s.tap.mu.Unlock()
	if s.tap.breakNext {
		s.tap.breakNext = false
		s.cancel()
		return status.Error(codes.Unavailable, "listenTap: the stream broke")
	}
	if r, ok := m.(*pb.ListenResponse); ok {
		s.tap.received = append(s.tap.received, describe(r))
	}
	return nil
}
