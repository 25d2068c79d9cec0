package emulator_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
)

// The tests in this file speak the Listen protocol with the generated gRPC client, to check
// what the official clients rely on but do not expose: the order of target changes, existence
// filters, REMOVE causes, resumption by read time, once.

const (
	testDB   = "projects/" + project + "/databases/(default)"
	testRoot = testDB + "/documents"
)

// rawListener is one Listen stream.
type rawListener struct {
	t  *testing.T
	lc pb.Firestore_ListenClient
}

func openListen(t *testing.T, raw pb.FirestoreClient) *rawListener {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(listenCtx(t), "google-cloud-resource-prefix", testDB)
	lc, err := raw.Listen(ctx)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	return &rawListener{t: t, lc: lc}
}

func (l *rawListener) add(target *pb.Target) {
	l.t.Helper()
	if err := l.lc.Send(&pb.ListenRequest{Database: testDB, TargetChange: &pb.ListenRequest_AddTarget{AddTarget: target}}); err != nil {
		l.t.Fatalf("sending add_target: %v", err)
	}
}

func (l *rawListener) remove(id int32) {
	l.t.Helper()
	if err := l.lc.Send(&pb.ListenRequest{Database: testDB, TargetChange: &pb.ListenRequest_RemoveTarget{RemoveTarget: id}}); err != nil {
		l.t.Fatalf("sending remove_target: %v", err)
	}
}

// next reads responses up to and including the next one that ends a step: a consistent
// snapshot (global NO_CHANGE), a REMOVE or a RESET. It returns them described by describe and
// the last response.
func (l *rawListener) next() ([]string, *pb.ListenResponse) {
	l.t.Helper()
	var out []string
	for {
		r, err := l.lc.Recv()
		if err != nil {
			l.t.Fatalf("Listen.Recv after %v: %v", out, err)
		}
		out = append(out, describe(r))
		tc := r.GetTargetChange()
		if tc == nil {
			continue
		}
		switch tc.GetTargetChangeType() {
		case pb.TargetChange_NO_CHANGE:
			if len(tc.GetTargetIds()) == 0 && tc.GetReadTime() != nil {
				return out, r
			}
		case pb.TargetChange_REMOVE:
			return out, r
		}
	}
}

// expect reads one step and compares it with want.
func (l *rawListener) expect(step string, want ...string) *pb.ListenResponse {
	l.t.Helper()
	got, last := l.next()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		l.t.Fatalf("%s:\ngot\n  %s\nwant\n  %s", step, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	return last
}

// describe renders a response compactly, with document names relative to the root.
func describe(r *pb.ListenResponse) string {
	short := func(name string) string { return strings.TrimPrefix(name, testRoot+"/") }
	switch {
	case r.GetTargetChange() != nil:
		tc := r.GetTargetChange()
		if tc.GetTargetChangeType() == pb.TargetChange_NO_CHANGE && len(tc.GetTargetIds()) == 0 {
			return "SNAPSHOT"
		}
		s := fmt.Sprintf("%s%v", tc.GetTargetChangeType(), tc.GetTargetIds())
		if tc.GetCause() != nil {
			s += " " + codes.Code(tc.GetCause().GetCode()).String()
		}
		return s
	case r.GetDocumentChange() != nil:
		dc := r.GetDocumentChange()
		s := fmt.Sprintf("CHANGE %s %v", short(dc.GetDocument().GetName()), dc.GetTargetIds())
		if len(dc.GetRemovedTargetIds()) > 0 {
			s += fmt.Sprintf(" -%v", dc.GetRemovedTargetIds())
		}
		return s
	case r.GetDocumentDelete() != nil:
		return fmt.Sprintf("DELETE %s -%v", short(r.GetDocumentDelete().GetDocument()), r.GetDocumentDelete().GetRemovedTargetIds())
	case r.GetDocumentRemove() != nil:
		return fmt.Sprintf("REMOVE_DOC %s -%v", short(r.GetDocumentRemove().GetDocument()), r.GetDocumentRemove().GetRemovedTargetIds())
	case r.GetFilter() != nil:
		return fmt.Sprintf("FILTER %d:%d", r.GetFilter().GetTargetId(), r.GetFilter().GetCount())
	}
	return fmt.Sprintf("unknown %v", r)
}

func docTarget(id int32, paths ...string) *pb.Target {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = testRoot + "/" + p
	}
	return &pb.Target{TargetId: id, TargetType: &pb.Target_Documents{Documents: &pb.Target_DocumentsTarget{Documents: names}}}
}

func queryTarget(id int32, sq *pb.StructuredQuery) *pb.Target {
	return &pb.Target{TargetId: id, TargetType: &pb.Target_Query{Query: &pb.Target_QueryTarget{
		Parent: testRoot, QueryType: &pb.Target_QueryTarget_StructuredQuery{StructuredQuery: sq}}}}
}

// nGreater selects the documents of coll whose n is greater than min, ordered by n.
func nGreater(coll string, min int64) *pb.StructuredQuery {
	return &pb.StructuredQuery{
		From: []*pb.StructuredQuery_CollectionSelector{{CollectionId: coll}},
		Where: &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_FieldFilter{FieldFilter: &pb.StructuredQuery_FieldFilter{
			Field: &pb.StructuredQuery_FieldReference{FieldPath: "n"},
			Op:    pb.StructuredQuery_FieldFilter_GREATER_THAN,
			Value: &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: min}},
		}}},
	}
}

// rawSet writes {n: n} to each document, all in one commit.
func rawSet(t *testing.T, raw pb.FirestoreClient, docs map[string]int64) *pb.CommitResponse {
	t.Helper()
	var writes []*pb.Write
	for p, n := range docs {
		writes = append(writes, &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{
			Name: testRoot + "/" + p, Fields: map[string]*pb.Value{"n": {ValueType: &pb.Value_IntegerValue{IntegerValue: n}}}}}})
	}
	return rawCommit(t, raw, writes...)
}

func rawDelete(t *testing.T, raw pb.FirestoreClient, paths ...string) *pb.CommitResponse {
	t.Helper()
	var writes []*pb.Write
	for _, p := range paths {
		writes = append(writes, &pb.Write{Operation: &pb.Write_Delete{Delete: testRoot + "/" + p}})
	}
	return rawCommit(t, raw, writes...)
}

func rawCommit(t *testing.T, raw pb.FirestoreClient, writes ...*pb.Write) *pb.CommitResponse {
	t.Helper()
	resp, err := raw.Commit(context.Background(), &pb.CommitRequest{Database: testDB, Writes: writes})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return resp
}

func startRaw(t *testing.T) (*emulator.Emulator, pb.FirestoreClient) {
	em := emulatortest.Start(t, emulator.Options{})
	return em, rawClient(t, em)
}

func TestListenProtocolTargetsOnOneStream(t *testing.T) {
	t.Parallel()
	_, raw := startRaw(t)
	rawSet(t, raw, map[string]int64{"c/a": 1, "c/b": 5})
	l := openListen(t, raw)

	l.add(docTarget(1, "c/a", "c/missing"))
	l.expect("document target", "ADD[1]", "CHANGE c/a [1]", "CURRENT[1]", "SNAPSHOT")
	l.add(queryTarget(2, nGreater("c", 0)))
	l.expect("query target", "ADD[2]", "CHANGE c/a [2]", "CHANGE c/b [2]", "CURRENT[2]", "SNAPSHOT")

	rawSet(t, raw, map[string]int64{"c/a": 2})
	l.expect("a document both targets hold", "CHANGE c/a [1 2]", "SNAPSHOT")
	rawSet(t, raw, map[string]int64{"c/a": 0})
	l.expect("a leaves the query, stays in the document target", "CHANGE c/a [1] -[2]", "SNAPSHOT")
	rawSet(t, raw, map[string]int64{"c/b": 0})
	l.expect("b stops matching", "REMOVE_DOC c/b -[2]", "SNAPSHOT")
	rawSet(t, raw, map[string]int64{"c/missing": 3})
	l.expect("a listed document appears", "CHANGE c/missing [1 2]", "SNAPSHOT")
	rawDelete(t, raw, "c/missing")
	l.expect("deleted", "DELETE c/missing -[1 2]", "SNAPSHOT")

	l.remove(1)
	l.expect("remove_target", "REMOVE[1]")
	rawSet(t, raw, map[string]int64{"c/a": 7})
	// Only the query target is left: the change comes for it alone.
	l.expect("after removing the document target", "CHANGE c/a [2]", "SNAPSHOT")

	l.add(queryTarget(0, nGreater("other", 0)))
	l.expect("target id 0 gets one chosen by the server", "ADD[1]", "CURRENT[1]", "SNAPSHOT")
}

func TestListenProtocolRejectedTargets(t *testing.T) {
	t.Parallel()
	_, raw := startRaw(t)
	l := openListen(t, raw)
	bad := nGreater("c", 0)
	bad.Limit = wrapperspb.Int32(-1)
	l.add(queryTarget(3, bad))
	l.expect("invalid query", "REMOVE[3] InvalidArgument")
	l.add(&pb.Target{TargetId: 4, TargetType: &pb.Target_Documents{Documents: &pb.Target_DocumentsTarget{Documents: []string{"projects/other/databases/(default)/documents/c/a"}}}})
	l.expect("document of another database", "REMOVE[4] InvalidArgument")
	// The stream still serves valid targets.
	l.add(docTarget(5, "c/a"))
	l.expect("valid target after rejections", "ADD[5]", "CURRENT[5]", "SNAPSHOT")

	l.add(docTarget(5, "c/b"))
	if _, err := l.lc.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a second target with id 5: got %v, want INVALID_ARGUMENT", err)
	}
}

func TestListenProtocolOnce(t *testing.T) {
	t.Parallel()
	_, raw := startRaw(t)
	rawSet(t, raw, map[string]int64{"c/a": 1})
	l := openListen(t, raw)
	target := queryTarget(1, nGreater("c", 0))
	target.Once = true
	l.add(target)
	l.expect("once", "ADD[1]", "CHANGE c/a [1]", "CURRENT[1]", "SNAPSHOT")
	l.expect("once, then removed", "REMOVE[1]")
	l.add(docTarget(2, "c/a"))
	l.expect("another target", "ADD[2]", "CHANGE c/a [2]", "CURRENT[2]", "SNAPSHOT")
	// Had the once target stayed, this commit would reach it too.
	rawSet(t, raw, map[string]int64{"c/a": 2})
	l.expect("the change reaches only the live target", "CHANGE c/a [2]", "SNAPSHOT")
}

// TestListenProtocolResume resumes a query target from a resume token and from a read time:
// the client is sent only what changed since, then an existence filter with the target's size.
func TestListenProtocolResume(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		resume func(token []byte, readTime *timestamppb.Timestamp, target *pb.Target)
	}{
		{"resume token", func(token []byte, _ *timestamppb.Timestamp, t *pb.Target) {
			t.ResumeType = &pb.Target_ResumeToken{ResumeToken: token}
		}},
		{"read time", func(_ []byte, rt *timestamppb.Timestamp, t *pb.Target) {
			t.ResumeType = &pb.Target_ReadTime{ReadTime: rt}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, raw := startRaw(t)
			rawSet(t, raw, map[string]int64{"c/keep": 1, "c/mod": 1, "c/del": 1, "c/leave": 1})
			first := openListen(t, raw)
			first.add(queryTarget(1, nGreater("c", 0)))
			last := first.expect("initial", "ADD[1]", "CHANGE c/del [1]", "CHANGE c/keep [1]", "CHANGE c/leave [1]", "CHANGE c/mod [1]", "CURRENT[1]", "SNAPSHOT")
			token, readTime := last.GetTargetChange().GetResumeToken(), last.GetTargetChange().GetReadTime()
			if len(token) == 0 || readTime == nil {
				t.Fatalf("the snapshot carries resume token %x and read time %v", token, readTime)
			}
			_ = first.lc.CloseSend()

			rawSet(t, raw, map[string]int64{"c/mod": 2, "c/new": 3, "c/leave": 0})
			rawDelete(t, raw, "c/del")

			second := openListen(t, raw)
			target := queryTarget(1, nGreater("c", 0))
			tc.resume(token, readTime, target)
			second.add(target)
			second.expect("resumed", "ADD[1]", "CHANGE c/mod [1]", "CHANGE c/new [1]", "DELETE c/del -[1]", "REMOVE_DOC c/leave -[1]", "FILTER 1:3", "CURRENT[1]", "SNAPSHOT")
		})
	}
}

func TestListenProtocolUnusableResumeTokenResets(t *testing.T) {
	t.Parallel()
	_, raw := startRaw(t)
	rawSet(t, raw, map[string]int64{"c/a": 1})
	cases := []struct {
		name   string
		resume func(*pb.Target)
	}{
		{"foreign token", func(t *pb.Target) { t.ResumeType = &pb.Target_ResumeToken{ResumeToken: []byte("not ours")} }},
		{"read time beyond retention", func(t *pb.Target) {
			t.ResumeType = &pb.Target_ReadTime{ReadTime: timestamppb.New(time.Now().Add(-2 * time.Hour))}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := openListen(t, raw)
			target := docTarget(1, "c/a")
			tc.resume(target)
			l.add(target)
			l.expect("reset", "ADD[1]", "RESET[1]", "CHANGE c/a [1]", "CURRENT[1]", "SNAPSHOT")
		})
	}
}

// TestListenProtocolLimitToLast listens as clients send limit-to-last: the order reversed and
// a limit; the window moves as documents enter it.
func TestListenProtocolLimitToLast(t *testing.T) {
	t.Parallel()
	_, raw := startRaw(t)
	rawSet(t, raw, map[string]int64{"c/a": 1, "c/b": 2, "c/c": 3})
	sq := nGreater("c", 0)
	sq.OrderBy = []*pb.StructuredQuery_Order{{Field: &pb.StructuredQuery_FieldReference{FieldPath: "n"}, Direction: pb.StructuredQuery_DESCENDING}}
	sq.Limit = wrapperspb.Int32(2)
	l := openListen(t, raw)
	l.add(queryTarget(1, sq))
	l.expect("last two by n", "ADD[1]", "CHANGE c/c [1]", "CHANGE c/b [1]", "CURRENT[1]", "SNAPSHOT")
	rawSet(t, raw, map[string]int64{"c/d": 4})
	l.expect("d enters, b leaves the window", "CHANGE c/d [1]", "REMOVE_DOC c/b -[1]", "SNAPSHOT")
	rawDelete(t, raw, "c/d")
	l.expect("d deleted, b back", "CHANGE c/b [1]", "DELETE c/d -[1]", "SNAPSHOT")
	rawSet(t, raw, map[string]int64{"c/a": 0})
	// a is outside the window before and after: nothing to tell, so the next step shows the
	// commit after it.
	rawSet(t, raw, map[string]int64{"c/c": 5})
	l.expect("c modified", "CHANGE c/c [1]", "SNAPSHOT")
}

// TestListenProtocolKindlessQuery listens to every document below a parent, whatever its
// collection, as a kindless query (no collection id, all descendants) reads them.
func TestListenProtocolKindlessQuery(t *testing.T) {
	t.Parallel()
	_, raw := startRaw(t)
	rawSet(t, raw, map[string]int64{"users/a": 1, "users/a/posts/p": 2, "users/b/likes/l": 3})
	l := openListen(t, raw)
	target := &pb.Target{TargetId: 1, TargetType: &pb.Target_Query{Query: &pb.Target_QueryTarget{
		Parent: testRoot + "/users/a",
		QueryType: &pb.Target_QueryTarget_StructuredQuery{StructuredQuery: &pb.StructuredQuery{
			From: []*pb.StructuredQuery_CollectionSelector{{AllDescendants: true}}}}}}}
	l.add(target)
	l.expect("below users/a", "ADD[1]", "CHANGE users/a/posts/p [1]", "CURRENT[1]", "SNAPSHOT")
	rawSet(t, raw, map[string]int64{"users/b/posts/q": 4})
	rawSet(t, raw, map[string]int64{"users/a/x/y/z/w": 5})
	l.expect("a deep descendant; the write below users/b came first and is not part of it", "CHANGE users/a/x/y/z/w [1]", "SNAPSHOT")
}

func TestListenProtocolMalformedRequestsEndTheStream(t *testing.T) {
	t.Parallel()
	_, raw := startRaw(t)
	cases := []struct {
		name string
		req  *pb.ListenRequest
	}{
		{"another database", &pb.ListenRequest{Database: "projects/other/databases/(default)", TargetChange: &pb.ListenRequest_AddTarget{AddTarget: docTarget(2, "c/a")}}},
		{"neither add nor remove", &pb.ListenRequest{Database: testDB}},
		{"removing an unknown target", &pb.ListenRequest{Database: testDB, TargetChange: &pb.ListenRequest_RemoveTarget{RemoveTarget: 9}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := openListen(t, raw)
			l.add(docTarget(1, "c/a"))
			l.expect("a valid target first", "ADD[1]", "CURRENT[1]", "SNAPSHOT")
			if err := l.lc.Send(tc.req); err != nil {
				t.Fatal(err)
			}
			if _, err := l.lc.Recv(); status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want INVALID_ARGUMENT", err)
			}
		})
	}
}
