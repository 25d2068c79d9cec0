package shard_test

import (
	"context"
	"sync/atomic"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

// gatedListens holds back the responses of Listen streams on document targets (the watch hub's
// metadata listener) while a gate is set, so that the shards listener runs ahead of it.
type gatedListens struct {
	gate atomic.Pointer[chan struct{}]
}

func (g *gatedListens) hold() func() {
	ch := make(chan struct{})
	g.gate.Store(&ch)
	return func() { g.gate.Store(nil); close(ch) }
}

func (g *gatedListens) intercept(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != "/google.firestore.v1.Firestore/Listen" {
		return cs, err
	}
	return &gatedStream{ClientStream: cs, g: g}, nil
}

type gatedStream struct {
	grpc.ClientStream
	g    *gatedListens
	meta atomic.Bool
}

func (s *gatedStream) SendMsg(m any) error {
	if r, ok := m.(*pb.ListenRequest); ok && r.GetAddTarget().GetDocuments() != nil {
		s.meta.Store(true)
	}
	return s.ClientStream.SendMsg(m)
}

func (s *gatedStream) RecvMsg(m any) error {
	if p := s.g.gate.Load(); p != nil && s.meta.Load() {
		select {
		case <-*p:
		case <-s.Context().Done():
		}
	}
	return s.ClientStream.RecvMsg(m)
}

// TestWatchSeesAMetadataOnlyChange: an Update that changes only the metadata (adaptive shards on),
// with the hub's metadata listener held back so that its shards listener delivers first. Every
// update must equal a read at its read time, and the watch must come to show the new metadata.
func TestWatchSeesAMetadataOnlyChange(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	g := &gatedListens{}
	client := emulatortest.NewClient(t, em.Addr(), "tally-test", grpc.WithChainStreamInterceptor(g.intercept))
	watcher, err := shard.New(client, watchOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watcher.Close(context.Background()) })
	writer := storeOn(t, em, watchOptions)
	ctx := context.Background()
	if _, err := writer.Create(ctx, "c", 2); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, watcher, "c", 0)
	nextUntil(t, w, valueIs(0), nil)

	release := g.hold()
	on := true
	changed, err := writer.Update(ctx, "c", shard.Change{Adaptive: &on})
	if err != nil {
		t.Fatal(err)
	}
	increment(t, writer, "c", 1)
	u := nextUntil(t, w, valueIs(1), nil)
	matchesReadAt(t, watcher, u)
	release()
	// Once the metadata listener delivers, every update shows the new metadata; twenty
	// increments, each waited for, leave it ample time.
	for v := int64(2); ; v++ {
		if u.Counter.Adaptive && u.Counter.UpdateTime.Equal(changed.UpdateTime) {
			return
		}
		if v == 22 {
			t.Fatalf("update at %v shows adaptive %v and update time %v, want true and %v",
				u.Counter.ReadTime, u.Counter.Adaptive, u.Counter.UpdateTime, changed.UpdateTime)
		}
		increment(t, writer, "c", 1)
		u = nextUntil(t, w, valueIs(v), nil)
		matchesReadAt(t, watcher, u)
	}
}
